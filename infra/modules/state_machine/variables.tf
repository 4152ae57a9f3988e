# One state machine of the deployment model (shared/deployment.StateMachine),
# as deployment.json holds it.
variable "state_machine" {
  description = "The state machine from the deployment model: physical name, type, definition (with its steps' ARNs), log group and level, tracing, and its own role with its trust and permissions policies."
  type = object({
    name             = string
    service          = string
    stateMachineName = string
    type             = string
    definition       = string
    logGroup         = string
    logLevel         = string
    tracing          = bool
    role = object({
      name        = string
      description = string
      policyName  = string
      trust       = any
      policy      = any
    })
  })
}

variable "log_retention" {
  description = "Retention of the execution log group, in days."
  type        = number
}

variable "send_tracing" {
  description = "Send the model's tracing configuration. False only against an emulator that keeps none (MiniStack 1.5.33), where sending it would leave a plan that never empties; AWS always gets it."
  type        = bool
}
