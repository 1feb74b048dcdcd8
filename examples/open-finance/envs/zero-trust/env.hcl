# Zero trust: staging's platform, where the apps prove who they are with a
# SPIFFE ID from SPIRE and get their TLS certificates and database
# credentials from Vault (OpenBao), short-lived and made for them alone,
# instead of a password kept in a secrets file. The `security` namespace adds
# the two components; each app adds `include "zero_trust"`
# (_templates/zero-trust.hcl). The rest of the tree is staging's.
#
# Vault runs outside the cluster and Capstan configures it through the
# connection below, so unlike staging, `apply` reaches two servers: that
# Vault and the PostgreSQL both it and the apps use. `plan` reaches neither
# until the first apply (then it reads Vault back to show what was changed
# outside Capstan; `--refresh=false` skips that).

locals {
  environment = "zero-trust"
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
# zero-trust with another environment's context is refused before any change.
target "kube" {
  context = "opus-zero-trust"
  server  = "https://zero-trust.k8s.opus.example:6443"
}

domain      = "zt.${local.client.org}.example"
app_version = "1.4.0-rc.2"

# Apps scale between these bounds on CPU.
app_scaling = { min = 2, max = 3, cpu = 75 }

# The Open Finance participant directory the apps trust (the sandbox one).
directory_url = "https://data.sandbox.directory.openbankingbrasil.org.br"

# PostgreSQL outside the cluster, as in production: Vault must reach it to
# create each app's short-lived role. Capstan creates each app's database and
# its owner role through this connection (granted to the postgres components
# as `sql:platform-db`); the owners' passwords are in postgres/secrets.enc.hcl,
# and the apps log in with the roles Vault makes as members of them.
#
# LOCAL STAND-IN: the URL and db_host point at a PostgreSQL on this machine,
# so the environment can be applied end to end without a cloud account. For
# a real one, point them at the managed server, keep the admin's password in
# envs/zero-trust/secrets.enc.hcl, and require TLS (here the local server
# has none, hence Vault's `sslmode = "disable"` in security/vault).
connection "platform-db" {
  type = "postgres"
  url  = "postgres://postgres@127.0.0.1:5432/postgres"
}

postgres = {
  backend = "external"
  settings = {
    db_host    = "127.0.0.1"
    connection = "platform-db"
    sslmode    = "require"
  }
}

# Vault (OpenBao) outside the cluster. Capstan configures it through this
# connection, granted to the vault component as `vault:vault`, with the
# operator's own token: the address is VAULT_ADDR and the token VAULT_TOKEN
# (else ~/.vault-token), as the bao and vault CLIs read them. Give that token
# a policy that can mount engines, enable auth methods and write policies,
# not the root token.
connection "vault" {
  type = "vault"
}

# What the security namespace's components read.
zero_trust = {
  # The address apps reach Vault at, and the base of the PKI's CA and CRL URLs.
  vault_address = "https://vault.zt.${local.client.org}.example:8200"
  trust_domain  = "zt.${local.client.org}.example"
  cluster_name  = "zero-trust-sa-east-1"
  # Where SPIRE's OIDC discovery provider answers (its certificate's name).
  # Vault, outside the cluster, must reach it there: route the name to the
  # Service spire-oidc in `security` (a LoadBalancer and a DNS record, or an
  # Ingress passing TLS through). This plan renders neither, which the spire
  # component's plan warns about.
  oidc_domain = "oidc.zt.${local.client.org}.example"

  # Vault's JWT auth verifies the apps' JWT-SVIDs with the keys SPIRE's OIDC
  # discovery provider publishes, and reads its discovery document as soon
  # as the auth method is configured: the provider must be up and reachable
  # from Vault at apply time.
  #
  # LOCAL STAND-IN: the provider runs in the cluster, out of reach of a Vault
  # on this machine. With SPIRE_OIDC_DISCOVERY_URL set (and, for a private
  # certificate, SPIRE_OIDC_CA_PEM: the PEM of its CA), Vault trusts that
  # server instead; the example's test runs one on loopback that signs as
  # SPIRE would. Unset, Vault trusts the spire component's provider
  # (https://oidc.zt.opus.example).
  oidc_stand_in = {
    url    = get_env("SPIRE_OIDC_DISCOVERY_URL", "")
    ca_pem = get_env("SPIRE_OIDC_CA_PEM", "")
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
    labels = { environment = local.environment }
  }
}

# ModSecurity with the OWASP CRS; no client certificates, as in staging.
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

# Trace every request, as in staging.
tracing_sampling_rate = "1"
