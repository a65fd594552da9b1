tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "put" "p" {
    src  = ["a", "b"]  # ERROR: Incorrect attribute value type
    dest = "/tmp/x"
  }
  task "exec" "e" {
    command = ["ls"]
    env     = "PATH=/bin"  # ERROR: Incorrect attribute value type
  }
}
