tunnel "local" "me" {}
group "web" { members = tunnel.local.me }
tasks "t" {
  on = group.wbe  # ERROR: Reference to undeclared group
  task "ping" "p" {}
}
