module "nginx" {
  source = "git::https://example.com/nginx.git?ref=v1.0.0"  # ERROR: Module not installed
}
