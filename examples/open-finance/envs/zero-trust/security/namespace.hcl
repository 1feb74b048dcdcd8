# Who the workloads are and what they may hold: SPIRE issues every app's
# SPIFFE ID, and Vault trusts those IDs to hand out certificates and
# database credentials. Both serve the open-finance namespace's apps.

locals {
  # The apps that get a SPIFFE ID and a Vault login: every app of the
  # open-finance namespace, read from there so the list is kept once.
  apps      = read_config(find_in_parent_folders("open-finance/namespace.hcl")).locals.apps
  apps_from = read_config(find_in_parent_folders("open-finance/namespace.hcl")).namespace
}

namespace = "security"
labels = {
  team = "platform"
}
