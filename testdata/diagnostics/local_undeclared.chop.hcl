locals {
  port = 8080
}
tunnel "ssh" "web" {
  host = "web:${local.prot}"  # ERROR: Reference to undeclared local value
}
