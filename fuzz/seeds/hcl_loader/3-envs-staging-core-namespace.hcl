locals {
  team = "core"
}

namespace = "oof-${local.env.environment}"
labels = {
  team = local.team
}
