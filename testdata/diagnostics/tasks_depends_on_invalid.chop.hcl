tunnel "local" "me" {}
tasks "a" {
  on         = tunnel.local.me
  depends_on = [var.x]  # ERROR: Invalid depends_on reference
  task "ping" "p" {}
}
