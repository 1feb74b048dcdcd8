# Included by the apps of the zero-trust environment (include "zero_trust"
# after "app"): the app plugin mounts the SPIRE agent's Workload API socket
# and sets SPIFFE_ID, and tells the app how to log in to Vault with its
# JWT-SVID (VAULT_AUTH_*) and where its certificate and database credential
# are issued (VAULT_PKI_ISSUE_PATH, VAULT_DATABASE_CREDS_PATH). The pods run
# as a ServiceAccount named after the app, the one SPIRE registered.

dependency "spire" {
  config_path = "../../security/spire"
}

dependency "vault" {
  config_path = "../../security/vault"
}
