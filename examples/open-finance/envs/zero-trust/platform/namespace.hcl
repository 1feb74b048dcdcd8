# Cluster-wide infrastructure the apps stand on: log collection, the WAF in
# front of every ingress, and who issues certificates.

locals {
  # The ingress class every app ingress uses. The WAF publishes it; the ACME
  # issuer answers HTTP-01 challenges through it too (it reads it from here,
  # not from the WAF, because the WAF already depends on cert-manager for the
  # mTLS CA bundle and a dependency back would be a cycle).
  ingress_class = "nginx"
}

namespace = "platform"
labels = {
  team = "platform"
}
