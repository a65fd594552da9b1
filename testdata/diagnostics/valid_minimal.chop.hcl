# A plan with one local tunnel and one task: no diagnostics.
tunnel "local" "me" {}

tasks "hello" {
  on = tunnel.local.me
  task "exec" "echo" {
    command = ["echo", "hello"]
  }
}
