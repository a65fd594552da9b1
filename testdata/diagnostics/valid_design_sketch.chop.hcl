variable "release" {
  type    = string
  default = "1.2.3"
}
variable "db_password" {
  type      = string
  sensitive = true
  default   = "hunter2"
}

tunnel "ssh" "bastion" { host = "bastion.example.com" }

tunnel "ssh" "web" {
  for_each = toset(["web1", "web2", "web3"])
  host     = "${each.key}.internal"
  user     = "deploy"
  via      = tunnel.ssh.bastion
}

tunnel "docker-image" "smoke" { image = "debian:bookworm-slim" }

group "web" { members = tunnel.ssh.web }
group "all" { members = setunion(group.web, [tunnel.docker-image.smoke]) }
group "debian" {
  members = group.all
  where   = host.facts.os_family == "debian"
}

tasks "migrate" {
  on = tunnel.ssh.bastion
  task "exec" "up" {
    command = "migrate up"
    env     = { DB_PASSWORD = var.db_password }
  }
}

tasks "deploy" {
  on           = group.web
  depends_on   = [tasks.migrate]
  batch        = [1, "50%"]
  max_failures = 0
  timeout      = "10m"
  tags         = ["deploy"]

  task "put" "bundle" {
    src  = "build/app-${var.release}.tar.gz"
    dest = "/srv/app/${var.release}.tar.gz"
  }
  task "exec" "restart" {
    command = ["systemctl", "restart", "app"]
    when    = task.bundle.changed
    retries = 3
    delay   = "5s"
    until   = self.rc == 0
  }
}

tasks "facts" {
  on = group.debian
  task "facts" "gather" {}
}

output "kernels" { value = { for h, r in tasks.facts.gather : h => r.kernel } }
