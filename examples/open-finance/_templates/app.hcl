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
  # The app plugin's NetworkPolicies let each app reach its dependencies and
  # nothing else; the participant directory (DIRECTORY_URL) is outside the
  # cluster, so HTTPS out is allowed too.
  network_policy = { egress = [{ ports = [443] }] }
  env = {
    ENVIRONMENT   = local.env.environment
    BRAND         = local.client.brand
    DIRECTORY_URL = local.env.directory_url
  }
}
