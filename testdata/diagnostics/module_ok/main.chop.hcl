# A module gets its hosts with on and its inputs with vars; its lists run
# on those hosts unless they say otherwise.
tunnel "ssh" "web" {
  for_each = toset(["web1", "web2"])
  host     = each.key
}
group "web" { members = tunnel.ssh.web }

module "nginx" {
  source = "./modules/nginx"
  on     = group.web
  vars   = { port = 8080 }
}

tasks "after" {
  on         = group.web
  depends_on = [module.nginx]
  task "exec" "check" {
    command = ["curl", "-f", "http://localhost:${module.nginx.port}/"]
  }
}
