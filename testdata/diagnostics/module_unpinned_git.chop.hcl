module "nginx" {
  source = "git::https://example.com/nginx.git"  # ERROR: Invalid module source
}
