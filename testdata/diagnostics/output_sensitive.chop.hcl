variable "pw" {
  type      = string
  sensitive = true
  default   = "x"
}
output "pw" {
  value = "password is ${var.pw}"  # ERROR: Output refers to sensitive values
}
output "masked" {
  value     = var.pw
  sensitive = true
}
output "revealed" {
  value = nonsensitive(sha256(var.pw))
}
