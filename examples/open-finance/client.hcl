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
