# ClusterIssuers for the installed cert-manager: Let's Encrypt staging, or
# the operator's CA in production (chosen in env.hcl). App ingresses get
# their certificates through the issuer annotation this component's outputs
# give them.

component {
  type    = "cert-manager"
  plugin  = "capstan/cert-manager"
  version = "^0.1"
}

# The CA certificate and key of production's CA issuer come from
# secrets.enc.hcl (values_sensitive_custom), never from this file.
inputs = {
  cluster_resource_namespace = "cert-manager"
  default_issuer             = local.env.cert_manager.default_issuer
  acme = merge(local.env.cert_manager.acme, {
    email         = local.client.platform_email
    ingress_class = local.namespace.ingress_class
  })
  ca = local.env.cert_manager.ca
}
