# SPIRE's datastore: a database and an owner role for the spire component on
# the environment's PostgreSQL (the backend comes from env.hcl). A server
# reads its datastore password from a Secret of its own namespace, so the
# database is declared here rather than by the apps' postgres component.

component {
  type    = "postgres"
  plugin  = "capstan/postgres-${local.env.postgres.backend}"
  version = "^0.1"
  grants  = local.env.postgres.backend == "external" ? ["sql:${local.env.postgres.settings.connection}"] : []
}

# The spire role's password is in secrets.enc.hcl (values_sensitive_custom).
inputs = merge(
  local.env.postgres.settings,
  {
    apps        = { spire = {} }
    default_app = "spire"
  },
)
