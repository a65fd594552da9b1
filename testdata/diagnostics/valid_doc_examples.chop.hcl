# Every example of docs/plan-language.md in one plan: the contract stays valid.
variable "release" {
  type        = string
  description = "The version to deploy."
  default     = "1.2.3"
  nullable    = false
  sensitive   = false
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.release))
    error_message = "release is a version such as 1.2.3."
  }
}
locals {
  app_dir = "/srv/app"
  bundle  = "app-${var.release}.tar.gz"
  kernels = { for h, r in tasks.facts.gather : h => r.kernel }
  id      = substr(sha256(var.release), 0, 12)
}
tunnel "local" "me" {}
tunnel "ssh" "bastion" {
  host = "bastion.example.com"
  user = "ops"
}
tunnel "ssh" "web" {
  for_each = toset(["web1", "web2", "web3"])
  host     = "${each.key}.internal"
  user     = "deploy"
  via      = tunnel.ssh.bastion
}
tunnel "ssh" "db" {
  count = 2
  host  = "10.0.1.${count.index + 10}"
}
tunnel "docker-image" "smoke" { image = "debian:bookworm-slim" }
tunnel "exec" "pod" { command = ["kubectl", "exec", "-i", "app-0", "--"] }
group "web" { members = tunnel.ssh.web }
group "all" {
  members = setunion(group.web, [tunnel.docker-image.smoke])
}
group "debian" {
  members = group.all
  where   = host.facts.os_family == "debian"
}
tasks "facts" {
  on = group.all
  task "facts" "gather" {}
}
tasks "migrate" {
  on = tunnel.ssh.bastion
  task "exec" "up" { command = "migrate up" }
}
tasks "deploy" {
  on                  = group.web
  depends_on          = [tasks.migrate]
  batch               = [1, "25%", "100%"]
  max_failures        = 0
  max_fail_percentage = 10
  timeout             = "10m"
  tags                = ["deploy", "web"]
  task "put" "bundle" {
    src  = "build/${local.bundle}"
    dest = "${local.app_dir}/${local.bundle}"
  }
  task "exec" "restart" {
    command = ["systemctl", "restart", "app"]
    when    = task.bundle.changed
  }
  task "exec" "pkgs" {
    command       = ["apt-get", "install", each.value]
    when          = task.bundle.changed
    for_each      = toset(["git", "curl"])
    retries       = 3
    until         = self.rc == 0
    delay         = "5s"
    timeout       = "2m"
    allow_failure = true
    changed_when  = self.stdout != ""
    check_mode    = false
    sensitive     = true
  }
}
tasks "report" {
  on = group.web
  task "exec" "kernel" {
    command = ["echo", tasks.facts.gather[host.name].kernel, jsonencode(local.kernels)]
  }
}
output "kernels" {
  value       = { for h, r in tasks.facts.gather : h => r.kernel }
  description = "The kernel of each host."
  sensitive   = false
}
