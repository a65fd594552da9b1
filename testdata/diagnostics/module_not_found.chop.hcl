module "nginx" {
  source = "./no/such/dir"  # ERROR: Module not found
}
