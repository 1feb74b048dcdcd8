# Organisation-wide settings, shared by every environment of this client.
#
# State is not configured, so it stays in a local file under .capstan/ at the
# stack root: the example plans and applies with no server at all. A team
# shares state through PostgreSQL instead:
#   state {
#     backend = "postgres"
#     url     = "postgres://capstan@state-db.internal:5432/capstan_state"
#   }

locals {
  org   = "opus"
  brand = "Opus Open Finance"
}

# Where the platform's container images come from.
registry = "registry.opus.example/oof"

# Contact for Let's Encrypt and the teams' on-call alias.
platform_email = "platform-team@opus.example"

# The platform's rules, checked on every plan before anything is applied:
# what the Kyverno rules of the platform guide enforce in the cluster,
# refused here at plan time with the HCL line that caused it. The built-in
# policy checks every container's requests and limits (and those the
# operators' resources template), non-root users, no privilege escalation,
# dropped capabilities, pinned images from these registries, probes, and a
# PodDisruptionBudget beside every autoscaler. `capstan policy test envs`
# runs it alone.
policy "baseline" {
  plugin  = "capstan/policy-baseline"
  version = "^0.1"
  mode    = "enforce"
  params = {
    allowed_registries = [
      "registry.opus.example/oof/",
      "cr.fluentbit.io/fluent/",
      "ghcr.io/jimmidyson/",
      "ghcr.io/spiffe/",
    ]
  }
  exceptions = [
    {
      name   = "log-collector-reads-node-logs"
      rules  = ["run-as-non-root"]
      types  = ["logs"]
      reason = "fluent-bit reads every pod's log files on the node, which only root may read; it runs with every capability dropped, no privilege escalation and a read-only root filesystem"
    },
    {
      name   = "spire-agent-attests-workloads"
      rules  = ["run-as-non-root"]
      types  = ["spire"]
      reason = "the SPIRE agent (zero-trust environment) owns the Workload API socket's directory on the node, which is root's, and finds a caller's pod from its PID through hostPID; it runs with every capability dropped and no privilege escalation"
    },
  ]
}

