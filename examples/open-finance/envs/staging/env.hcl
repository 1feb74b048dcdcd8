# Staging: everything runs inside the cluster, so the whole environment plans
# and renders with no server to reach. Every component.hcl below reads its
# environment-specific choices from here (local.env.*); swapping a backend is
# a change in this file only.

locals {
  environment = "staging"
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
# staging with another environment's context is refused before any change.
target "kube" {
  context = "opus-staging"
  server  = "https://staging.k8s.opus.example:6443"
}

domain      = "staging.${local.client.org}.example"
app_version = "1.4.0-rc.2"

# Apps scale between these bounds on CPU.
app_scaling = { min = 2, max = 3, cpu = 75 }

# The Open Finance participant directory the apps trust (the sandbox one).
directory_url = "https://data.sandbox.directory.openbankingbrasil.org.br"

# PostgreSQL inside the cluster, run by the CloudNativePG operator: a primary
# and a replica, TLS with the cluster's own CA (apps verify it:
# sslmode=verify-full), WAL archived as it is written and a base backup every
# night to object storage, kept 14 days. The pods reach the bucket with
# their IAM role. Each app's password is in postgres/secrets.enc.hcl.
# (`backend = "statefulset"` runs one plain StatefulSet instead: TLS from
# cert-manager, no backups; its secrets file then adds superuser_password.)
postgres = {
  backend = "cloudnative-pg"
  settings = {
    instances = 2
    storage   = { size = "20Gi" }
    backup    = { destination_path = "s3://opus-oof-backups/staging", retention = "14d" }
  }
}

# RabbitMQ inside the cluster (RabbitMQ cluster and topology operators).
# Swapping the backend is a change here only: `backend`, its `settings`, and
# the `grants` a backend needs beyond rendering objects (sqs: ["http:aws:sqs"],
# an external broker: ["amqp:rabbitmq"] or ["jetstream:nats"]).
#
# The broker serves AMQPS only, with a certificate from the cluster's
# internal CA issuer (set up with the cluster, like the operators). Its CA
# is in the messaging-topology-operator's trust store: the operator reaches
# the broker's management API over HTTPS to create the queues and users.
messaging = {
  backend = "rabbitmq"
  settings = {
    mode     = "in-cluster"
    replicas = 1
    storage  = { size = "8Gi" }
    tls      = { issuer = { kind = "ClusterIssuer", name = "opus-internal-ca" } }
  }
}

# Logs go to the in-cluster Grafana Loki.
logs = {
  output = "loki"
  loki = {
    host   = "loki-gateway.logging.svc.cluster.local"
    port   = 3100
    labels = { environment = "staging" }
  }
}

# ModSecurity with the OWASP CRS; no client certificates in staging.
waf = {
  mode           = "block"
  paranoia_level = 1
  mtls           = { enabled = false }
}

# Let's Encrypt staging certificates, answered through the WAF's ingress class.
cert_manager = {
  default_issuer = "acme"
  acme           = { enabled = true }
  ca             = { enabled = false }
}

# Trace every request in staging.
tracing_sampling_rate = "1"
