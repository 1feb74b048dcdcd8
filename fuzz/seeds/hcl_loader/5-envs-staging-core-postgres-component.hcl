component {
  type    = "postgres"
  plugin  = "capstan/postgres-${local.env.postgres_backend}"
  version = "~0.1.2"
  grants  = ["sql:platform-db"]
}

inputs = {
  host      = local.env.db_host
  databases = ["consent", "payments"]
  namespace = local.namespace.namespace
}

values_custom = <<-YAML
  storage:
    size: 20Gi
  resources:
    requests:
      memory: 512Mi
YAML
