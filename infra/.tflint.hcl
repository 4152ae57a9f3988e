# tflint (make lint): the terraform ruleset, built into tflint, with every
# rule on: pinned versions in every module, typed and documented variables
# and outputs, no unused or deprecated declarations, naming and module
# structure conventions.
plugin "terraform" {
  enabled = true
  preset  = "all"
}
