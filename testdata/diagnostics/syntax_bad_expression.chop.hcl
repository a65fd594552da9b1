tunnel "local" "me" {}

tasks "x" {
  on = tunnel.local.me
  task "exec" "e" {
    command = ["a", "b" +]  # ERROR: Invalid expression
  }
}
