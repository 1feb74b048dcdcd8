# The event bus between the apps. The same queues and users on every backend:
# RabbitMQ in staging, Kafka in production (env.hcl picks). Each app connects
# as its own user, allowed its own queues and consumer groups only.

component {
  type    = "messaging"
  plugin  = "capstan/messaging-${local.env.messaging.backend}"
  version = "^0.1"
  # What the backend may do beyond rendering objects (AWS API calls for sqs,
  # effects on an existing broker) is granted where the backend is chosen.
  grants = lookup(local.env.messaging, "grants", [])
}

# Each user's password is in secrets.enc.hcl (values_sensitive_custom).
inputs = merge(
  local.env.messaging.settings,
  {
    name_prefix = "oof-"
    queues = {
      consent-events    = { retention_hours = 168, dead_letter = true }
      payment-events    = { retention_hours = 168, dead_letter = true }
      directory-updates = { retention_hours = 24 }
    }
    users = { for app in local.namespace.apps : app => {} }
  },
)
