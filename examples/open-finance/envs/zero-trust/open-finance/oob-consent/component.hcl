# Consent management: the Open Finance consents API (create, read, revoke).

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

inputs = {
  image = "${local.client.registry}/oob-consent:${local.env.app_version}"
  ingress = {
    host = "consent.${local.env.domain}"
    path = "/open-banking/consents"
  }
}
