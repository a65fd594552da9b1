tunnel "local" "me" {}
module "m" {  # ERROR: No value for required variable
  source = "./modules/m"
  on     = tunnel.local.me
}
