# Production: a managed PostgreSQL, Kafka, Elasticsearch, client certificates
# (mTLS) at the WAF and certificates from the operator's own CA. The
# component.hcl files are the same as staging's: only this file and the
# secrets files differ.

locals {
  environment = "production"

  # The managed PostgreSQL server the apps connect to (RDS, Cloud SQL, ...).
  db_host = "oof-production.cluster-c1a2b3d4.sa-east-1.rds.amazonaws.com"
}

# Rendered files go to rendered/ at the stack root, ready to commit for
# Argo CD or Flux: every Secret is a SOPS document encrypted to the age
# recipients of this environment's secrets files (Flux's kustomize-controller
# decrypts it; `sops -d` opens it). Nothing secret is written in clear.
target "render" {
  out_dir = "rendered"
  secrets = "sops"
}

# With --target kube, this environment runs only against its own cluster:
# the context below, which must resolve to this API server. `apply` of
# production with another environment's context is refused before any change.
target "kube" {
  context = "opus-production"
  server  = "https://production.k8s.opus.example:6443"
}

domain      = "${local.client.org}.example"
app_version = "1.3.7"

app_scaling = { min = 3, max = 10, cpu = 70 }

directory_url = "https://data.directory.openbankingbrasil.org.br"

# Capstan creates each app's role and database on that server through this
# connection, granted to the postgres component as `sql:platform-db`.
#
# LOCAL STAND-IN: this URL points at a PostgreSQL on this machine, so the
# example can be applied end to end without a cloud account. For a real
# production, point it at the managed server with an admin user, and keep
# the password in envs/production/secrets.enc.hcl:
#   url     = "postgres://capstan_admin:${secrets.db_admin_password}@${local.db_host}:5432/postgres"
#   sslmode = "require"
connection "platform-db" {
  type = "postgres"
  url  = "postgres://postgres@127.0.0.1:5432/postgres"
}

# PostgreSQL outside the cluster; app passwords are in postgres/secrets.enc.hcl.
# Its backups are the managed service's (automated snapshots and
# point-in-time recovery, set on the instance), not Capstan's.
# Apps (and Dapr's state store) connect with TLS: the outputs contract passes
# `sslmode` on; with the provider's CA in a Secret, use verify-full and
# ca_secret = { name = "rds-ca" }.
postgres = {
  backend = "external"
  settings = {
    db_host    = local.db_host
    connection = "platform-db"
    sslmode    = "require"
  }
}

# Kafka (Strimzi, KRaft): three brokers, every topic replicated three times.
messaging = {
  backend = "kafka"
  settings = {
    brokers        = 3
    storage        = { size = "200Gi" }
    topic_defaults = { partitions = 6, replicas = 3 }
  }
}

# Logs go to the company's Elasticsearch; the password is in
# platform/logs/secrets.enc.hcl.
logs = {
  output = "elasticsearch"
  elasticsearch = {
    host  = "logs.opus.example"
    port  = 9243
    index = "oof-production"
    auth  = { user = "fluent-bit-oof" }
  }
}

# ModSecurity with the OWASP CRS, and client certificates required on every
# app ingress (Open Finance traffic is mutual TLS), verified against the CA
# bundle cert-manager publishes.
waf = {
  mode           = "block"
  paranoia_level = 2
  mtls           = { enabled = true }
}

# Certificates from the CA the operator provides (production certificates come
# from a regulated authority, not ACME). Its certificate and key are in
# platform/cert-manager/secrets.enc.hcl.
cert_manager = {
  default_issuer = "ca"
  acme           = { enabled = false }
  ca             = { enabled = true, name = "opus-open-finance-ca" }
}

tracing_sampling_rate = "0.1"
