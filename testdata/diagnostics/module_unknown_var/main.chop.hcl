tunnel "local" "me" {}
module "m" {
  source = "./modules/m"
  on     = tunnel.local.me
  vars = {
    prot = 80  # ERROR: Unsupported module variable
  }
}
