# The smallest useful plan: one local tunnel, one task.
tunnel "local" "me" {}

tasks "hello" {
  on = tunnel.local.me

  task "exec" "greet" {
    command = ["echo", "hello from ${tunnel.local.me}"]
  }
}
