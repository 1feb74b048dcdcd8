# Shared by every Open Finance application (include "app" in its
# component.hcl). The app plugin reads its dependencies' outputs contracts by
# component type: DATABASE_* variables from postgres (the password by Secret
# reference), MESSAGING_* from messaging, and the Dapr sidecar annotations
# from dapr. Nothing here names a backend.

component {
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}

dependency "postgres" {
  config_path = "../postgres"
}

dependency "messaging" {
  config_path = "../messaging"
}

dependency "dapr" {
  config_path = "../dapr"
}

inputs = {
  env = {
    ENVIRONMENT   = local.env.environment
    BRAND         = local.client.brand
    DIRECTORY_URL = local.env.directory_url
  }
}
