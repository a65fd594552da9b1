variable "v" { default = "./x" }
module "m" {
  source = var.v  # ERROR: Variables not allowed
}
