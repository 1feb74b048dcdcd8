# Shared by every application component: dependency wiring and defaults.
locals {
  image_tag = local.env.app_version
}

component {
  type    = "app"
  plugin  = "capstan/app-kubernetes"
  version = "^0.1"
}

dependency "db" {
  config_path = "../postgres"
  mock_outputs = {
    host = "mock-db"
    port = 5432
  }
  mock_outputs_allowed_commands = ["validate", "plan"]
}

dependency "messaging" {
  config_path = "../messaging"
}

inputs = {
  image = "${local.client.registry}/api:${local.image_tag}"
  env = {
    DB_HOST    = dependency.db.outputs.host
    DB_PORT    = tostring(dependency.db.outputs.port)
    BROKER_URL = dependency.messaging.outputs.endpoint
  }
  labels = {
    org         = local.client.org
    environment = local.env.environment
  }
}
