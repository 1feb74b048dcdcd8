# Shared by the applications that serve the Open Finance APIs (include
# "public_api" after "app"). Their ingress takes its class and ModSecurity
# (and, in production, mTLS) annotations from the waf component, and its
# certificate from cert-manager's issuer.

dependency "waf" {
  config_path = "../../platform/waf"
}

dependency "cert-manager" {
  config_path = "../../platform/cert-manager"
}

inputs = {
  port        = 8080
  health_path = "/health"
  autoscaling = local.env.app_scaling
  pdb         = { min_available = 1 }
  service_monitor = {
    path     = "/actuator/prometheus"
    interval = "30s"
  }
}
