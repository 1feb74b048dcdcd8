# ModSecurity and the OWASP Core Rule Set in the ingress-nginx controller
# (installed from its upstream chart in the `ingress-nginx` namespace). Apps
# read the ingress class and annotations from this component's outputs.

component {
  type    = "waf"
  plugin  = "capstan/waf-ingress-nginx"
  version = "^0.1"
}

# With mTLS on (production), client certificates are verified against the
# CA bundle this dependency publishes.
dependency "cert-manager" {
  config_path = "../cert-manager"
}

inputs = {
  ingress_class         = local.namespace.ingress_class
  controller_namespace  = "ingress-nginx"
  controller_config_map = "ingress-nginx-controller"
  mode                  = local.env.waf.mode
  paranoia_level        = local.env.waf.paranoia_level
  mtls                  = local.env.waf.mtls
  rule_exclusions = [
    {
      id     = 942100
      path   = "/open-banking/consents"
      reason = "signed JWT request bodies look like SQL injection to libinjection"
    },
  ]
}
