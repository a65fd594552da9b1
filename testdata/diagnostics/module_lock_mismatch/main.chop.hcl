module "nginx" {
  source = "git::file:///nonexistent/nginx.git?ref=v1"  # ERROR: Module content does not match the lock
}
