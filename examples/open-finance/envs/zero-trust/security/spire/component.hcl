# SPIRE: the server (its datastore on ../postgres), an agent on every node,
# the controller manager that turns one ClusterSPIFFEID per app into
# registrations, and the OIDC discovery provider Vault's JWT auth reads the
# signing keys from. Each app's pods get
# spiffe://<trust domain>/ns/open-finance/sa/<app> from the agent's socket.

component {
  type    = "spire"
  plugin  = "capstan/spire"
  version = "^0.1"
}

dependency "postgres" {
  config_path = "../postgres"
}

inputs = {
  trust_domain = local.env.zero_trust.trust_domain
  cluster_name = local.env.zero_trust.cluster_name
  oidc         = { domain = local.env.zero_trust.oidc_domain }
  apps         = { for app in local.namespace.apps : app => { namespace = local.namespace.apps_from } }
  monitoring   = {}
}
