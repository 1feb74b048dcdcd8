# fluent-bit on every node, shipping container logs to the environment's log
# store (loki in staging, elasticsearch in production: see env.hcl).

component {
  type    = "logs"
  plugin  = "capstan/logs-fluent-bit"
  version = "^0.1"
}

# The output section (and its credentials, from secrets.enc.hcl where there
# are any) comes from env.hcl.
inputs = merge(
  {
    log_level = "info"
    forward   = { enabled = true, port = 24224 }
  },
  local.env.logs,
)
