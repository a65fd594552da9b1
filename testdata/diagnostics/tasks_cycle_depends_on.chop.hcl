tunnel "local" "me" {}
tasks "a" {  # ERROR: Cycle between task lists
  on         = tunnel.local.me
  depends_on = [tasks.b]
  task "ping" "p" {}
}
tasks "b" {
  on         = tunnel.local.me
  depends_on = [tasks.c]
  task "ping" "p" {}
}
tasks "c" {
  on         = tunnel.local.me
  depends_on = [tasks.a]
  task "ping" "p" {}
}
