variable "release" {
  type        = string
  default     = "1.2.3"
  description = "The version to deploy."
}

variable "db_password" {
  type      = string
  sensitive = true
  default   = "hunter2"
}

variable "web_hosts" {
  type    = set(string)
  default = ["web1", "web2", "web3"]
  validation {
    condition     = length(var.web_hosts) > 0
    error_message = "At least one web host."
  }
}

locals {
  app_dir = "/srv/app"
  bundle  = "app-${var.release}.tar.gz"
}

tunnel "ssh" "bastion" {
  host = "bastion.example.com"
  user = "ops"
}

tunnel "ssh" "web" {
  for_each = var.web_hosts
  host     = "${each.key}.internal"
  user     = "deploy"
  via      = tunnel.ssh.bastion
}

tunnel "docker-image" "smoke" {
  image = "debian:bookworm-slim"
}

group "web" {
  members = tunnel.ssh.web
}

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
  task "exec" "up" {
    command = "migrate up"
    env     = { DB_PASSWORD = var.db_password }
  }
}

tasks "deploy" {
  on                  = group.web
  depends_on          = [tasks.migrate]
  batch               = [1, "50%"]
  max_fail_percentage = 10
  timeout             = "10m"
  tags                = ["deploy"]

  task "put" "bundle" {
    src  = "build/${local.bundle}"
    dest = "${local.app_dir}/${local.bundle}"
    mode = "0644"
  }

  task "exec" "unpack" {
    command = ["tar", "-xzf", task.bundle.path, "-C", local.app_dir]
    when    = task.bundle.changed
  }

  task "exec" "restart" {
    command = ["systemctl", "restart", "app"]
    when    = task.bundle.changed
    retries = 3
    delay   = "5s"
    until   = self.rc == 0
  }

  task "exec" "packages" {
    for_each = toset(["curl", "jq"])
    command  = ["apt-get", "install", "-y", each.value]
  }
}

tasks "report" {
  on = group.debian
  task "exec" "kernel" {
    command = ["echo", tasks.facts.gather[host.name].kernel]
  }
}

output "kernels" {
  value       = { for h, r in tasks.facts.gather : h => r.kernel }
  description = "The kernel of each host."
}
