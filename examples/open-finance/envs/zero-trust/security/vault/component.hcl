# Vault (OpenBao) outside the cluster, configured for the apps: a PKI (a
# root and an intermediate) whose role per app issues certificates for that
# app's names only, JWT auth trusting SPIRE (an app logs in with its
# JWT-SVID and gets its own policy), the database secrets engine making
# short-lived roles on the apps' PostgreSQL, each a member of its app's
# owner role, and KV v2. Nothing is rendered: every step is a `vault` effect
# run with the operator's token (env.hcl's connection), shown in the plan
# before it runs.

component {
  type    = "vault"
  plugin  = "capstan/vault-openbao"
  version = "^0.1"
  grants  = ["vault:vault"]
}

# The apps' databases: Vault's dynamic roles are members of their owners.
dependency "postgres" {
  config_path = "../../open-finance/postgres"
}

# The apps' SPIFFE IDs, and the OIDC discovery provider JWT auth trusts.
dependency "spire" {
  config_path = "../spire"
}

inputs = {
  mode    = "external"
  address = local.env.zero_trust.vault_address
  # A root CA whose key signs only the intermediate, which issues the apps'
  # certificates (at pki_int/issue/<app>).
  pki = {
    common_name  = "${local.client.brand} Zero Trust Root CA"
    intermediate = { common_name = "${local.client.brand} Zero Trust Issuing CA" }
  }
  # No keys of its own: it trusts the spire dependency's provider, or the
  # local stand-in env.hcl names.
  jwt_auth = local.env.zero_trust.oidc_stand_in.url == "" ? {} : {
    oidc_discovery_url = local.env.zero_trust.oidc_stand_in.url
    discovery_ca_pem   = local.env.zero_trust.oidc_stand_in.ca_pem
  }
  # Vault logs in to PostgreSQL as this user to create the apps' roles; its
  # password is in secrets.enc.hcl (values_sensitive_custom, database.password).
  # LOCAL STAND-IN: the local server has no TLS (see env.hcl).
  database = { username = "postgres", sslmode = "disable" }
  kv       = {}
  # Each app of the open-finance namespace; its SPIFFE ID is the one the
  # spire component registered for it.
  apps = { for app in local.namespace.apps : app => { namespace = local.namespace.apps_from } }
}
