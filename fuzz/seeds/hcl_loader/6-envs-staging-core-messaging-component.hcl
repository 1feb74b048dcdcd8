locals {
  queues = ["consent-events", "payment-events"]
}

component {
  type    = "messaging"
  plugin  = "capstan/messaging-${local.env.messaging_backend}"
  version = "^0.1"
  grants  = local.env.messaging_backend == "sqs" ? ["http:aws:sqs"] : ["amqp:broker"]
}

inputs = {
  queues = { for q in local.queues : q => { durable = true, dead_letter = "${q}-dlq" } }
  prefix = upper(local.env.environment)
}
