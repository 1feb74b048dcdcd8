# The event bus between the apps. The same queues and user on every backend:
# RabbitMQ in staging, Kafka in production (env.hcl picks).

component {
  type    = "messaging"
  plugin  = "capstan/messaging-${local.env.messaging.backend}"
  version = "^0.1"
}

# The user's password is in secrets.enc.hcl (values_sensitive_custom).
inputs = merge(
  local.env.messaging.settings,
  {
    name_prefix = "oof-"
    queues = {
      consent-events    = { retention_hours = 168, dead_letter = true }
      payment-events    = { retention_hours = 168, dead_letter = true }
      directory-updates = { retention_hours = 24 }
    }
    users = {
      oob-apps = {}
    }
    credentials_user = "oob-apps"
  },
)
