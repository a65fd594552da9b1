tunnel "local" "me" {}
module "m" {
  source = "./modules/m"
  on     = tunnel.local.me
}
output "x" {
  value = module.m.kernal  # ERROR: Reference to undeclared output value
}
output "y" {
  value = modul.m.kernel  # ERROR: Unknown variable
}
