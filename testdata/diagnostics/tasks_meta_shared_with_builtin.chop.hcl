# exec declares allow_failure too: the builtin gets the value and the
# loader decodes it as the meta-argument.
tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "e" {
    command       = "false"
    allow_failure = true
    timeout       = "30s"
  }
}
