tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "token" {
    command   = "cat /etc/token"
    sensitive = true
  }
}
output "tokens" {
  value = tasks.a.token  # ERROR: Output refers to sensitive values
}
