include "app" {
  path           = "../../../../_templates/app.hcl"
  expose         = true
  merge_strategy = "deep"
}

locals {
  host = "api.${local.env.domain}"
}

inputs = {
  replicas = local.env.replicas
  ingress = {
    host = local.host
    tls  = false
  }
  database_url = "postgres://api@${dependency.db.outputs.host}:${dependency.db.outputs.port}/consent"
  properties   = file("config/app.properties")
  tag          = include.app.locals.image_tag
}

values_custom = <<-YAML
  # Helm-style values, merged over the plugin's defaults.
  resources:
    limits:
      memory: 1Gi
  podAnnotations:
    team: ${local.namespace.labels.team}
YAML

files = ["config/app.properties"]
