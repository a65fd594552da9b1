tunnel "local" "me" {}
tasks "t" {
  on = tunnel.local.me
  task "exec" "e" {  # ERROR: Missing required argument
    comand = "true"  # ERROR: Unsupported argument
  }
}
