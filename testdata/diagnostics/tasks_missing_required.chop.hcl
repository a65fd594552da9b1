tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "put" "p" {  # ERROR: Missing required argument
    dest = "/tmp/x"
  }
}
