tunnel "local" "me" {}
tasks "a" {
  on = tunnel.local.me
  task "exec" "pkg" {
    for_each = toset(["git", "curl"])
    command  = ["apt-get", "install", "-y", each.value]
  }
}
