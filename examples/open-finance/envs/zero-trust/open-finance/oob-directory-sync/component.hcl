# A worker that keeps the participants and their certificates in sync with
# the Open Finance directory (DIRECTORY_URL, from env.hcl). It serves no
# traffic: no port, no ingress, one replica. Its directory client secret is
# in secrets.enc.hcl (values_sensitive_custom: env.DIRECTORY_CLIENT_SECRET);
# the app plugin puts it in a Secret, never in the Deployment.

include "app" {
  path           = find_in_parent_folders("_templates/app.hcl")
  merge_strategy = "deep"
}

include "zero_trust" {
  path           = find_in_parent_folders("_templates/zero-trust.hcl")
  merge_strategy = "deep"
}

inputs = {
  image    = "${local.client.registry}/oob-directory-sync:${local.env.app_version}"
  replicas = 1
  # No port to probe: the kubelet runs the worker's own check instead (it
  # exits non-zero when the last sync is older than two intervals).
  health_command = ["/app/oob-directory-sync", "healthcheck"]
  env = {
    SYNC_INTERVAL = "15m"
  }
}
