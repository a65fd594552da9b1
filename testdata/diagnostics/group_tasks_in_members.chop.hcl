tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "ping" "p" {}
}
group "g" {
  members = tasks.t.p  # ERROR: Invalid reference
}
