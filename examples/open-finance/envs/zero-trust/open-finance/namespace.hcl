# The Open Finance applications, with the database, broker and Dapr
# components they use. They share a namespace because a pod (and a Dapr
# Component) can only read Secrets of its own namespace, and the database and
# broker credentials are Secrets their components publish.

locals {
  # Every application of the namespace: each gets a database and a user
  # (postgres), and may use the Dapr components (dapr).
  apps = ["oob-consent", "oob-payments", "oob-directory-sync"]
}

namespace = "open-finance"
labels = {
  team = "open-finance"
}
