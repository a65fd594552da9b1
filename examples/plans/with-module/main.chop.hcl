# A plan that uses a module: the module writes a message of the day into a
# directory, the plan then checks it.

variable "dir" {
  type    = string
  default = "/tmp/chopplan-example-motd"
}

tunnel "local" "me" {}

module "motd" {
  source = "./modules/motd"
  on     = [tunnel.local.me]
  vars = {
    dir     = var.dir
    message = "Managed by chopplan"
  }
}

tasks "check" {
  on         = tunnel.local.me
  depends_on = [module.motd]
  task "exec" "read" {
    command = ["cat", module.motd.path]
  }
}

output "motd" {
  value = tasks.check.read["me"].stdout
}
