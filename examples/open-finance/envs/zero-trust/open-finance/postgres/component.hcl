# PostgreSQL for the apps: one database and one user per app (and one for
# Dapr's state store). The backend comes from env.hcl: a CloudNativePG
# cluster in staging, a managed server in production.

component {
  type    = "postgres"
  plugin  = "capstan/postgres-${local.env.postgres.backend}"
  version = "^0.1"
  # The external backend runs its SQL through the environment's connection;
  # the in-cluster ones need no grant (the operator, or a Job, does the SQL).
  grants = local.env.postgres.backend == "external" ? ["sql:${local.env.postgres.settings.connection}"] : []
}

# Passwords (each app's, and the superuser's for the statefulset backend) are
# in secrets.enc.hcl as values_sensitive_custom, merged over these inputs.
inputs = merge(
  local.env.postgres.settings,
  {
    apps = merge(
      { for app in local.namespace.apps : app => {} },
      {
        oob-consent = { extensions = ["pgcrypto"] }
        dapr        = {}
      },
    )
    default_app = "oob-consent"
  },
)
