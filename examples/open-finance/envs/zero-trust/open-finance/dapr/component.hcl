# Dapr Components for the apps: pub/sub on the messaging component, a state
# store on the postgres component (in its own `dapr` database), and the
# Configuration with mTLS between sidecars.

component {
  type    = "dapr"
  plugin  = "capstan/dapr"
  version = "^0.1"
}

dependency "messaging" {
  config_path = "../messaging"
}

dependency "postgres" {
  config_path = "../postgres"
}

inputs = {
  app_ids = local.namespace.apps
  # Always TLS to PostgreSQL; a sidecar has no CA file to verify the server
  # with, so `require` (the best Dapr can do) rather than verify-full.
  statestore = { sslmode = "require" }
  configuration = {
    tracing = { sampling_rate = local.env.tracing_sampling_rate }
  }
}
