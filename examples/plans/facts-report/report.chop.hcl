# Gathers facts from this machine as itself and as root (through sudo), and
# reports them as outputs.

tunnel "local" "me" {}

tunnel "sudo" "root" {
  user = "root"
}

group "all" {
  members = setunion([tunnel.local.me], [tunnel.sudo.root])
}

tasks "facts" {
  on = group.all
  task "facts" "gather" {}
  task "exec" "disk" {
    command = ["df", "-P", "/"]
  }
}

output "kernels" {
  value = { for host, f in tasks.facts.gather : host => f.kernel }
}

output "users" {
  value = { for host, f in tasks.facts.gather : host => f.user }
}

output "root_disk" {
  value = { for host, r in tasks.facts.disk : host => split("\n", trimspace(r.stdout))[1] }
}
