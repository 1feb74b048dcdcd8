locals {
  environment = "staging"
}

messaging_backend = "rabbitmq"
postgres_backend  = "cloudnative-pg"
db_host           = "pg-staging.core.svc"
app_version       = "1.4.0-rc.2"
replicas          = 1
domain            = "staging.${local.client.org}.example"

connection "broker" {
  type = "amqp"
  url  = "amqp://guest:guest@127.0.0.1:5672/%2f"
}
