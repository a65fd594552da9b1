variable "port" { type = number }

tasks "install" {
  task "exec" "apt" {
    command = ["apt-get", "install", "-y", "nginx"]
  }
  task "template" "conf" {
    src  = "${path.module}/nginx.conf.tmpl"
    dest = "/etc/nginx/conf.d/app.conf"
    vars = { port = var.port, hosts = var.on }
  }
}

output "port" { value = var.port }
