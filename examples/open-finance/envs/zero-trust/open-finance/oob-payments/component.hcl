# Payment initiation: the Open Finance payments API. It checks consents with
# oob-consent, which it calls through its Dapr sidecar at OOB_CONSENT_SERVICE_URL.

include "app" {
  path           = find_in_parent_folders("_templates/app.hcl")
  merge_strategy = "deep"
}

include "zero_trust" {
  path           = find_in_parent_folders("_templates/zero-trust.hcl")
  merge_strategy = "deep"
}

include "public_api" {
  path           = find_in_parent_folders("_templates/public-api.hcl")
  merge_strategy = "deep"
}

dependency "oob-consent" {
  config_path = "../oob-consent"
}

inputs = {
  image = "${local.client.registry}/oob-payments:${local.env.app_version}"
  ingress = {
    host = "payments.${local.env.domain}"
    path = "/open-banking/payments"
  }
}
