module "nginx" {
  source = "github.com/example/nginx"  # ERROR: Invalid module source
}
