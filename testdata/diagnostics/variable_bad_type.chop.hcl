variable "port" {
  type    = nubmer  # ERROR: Invalid type specification
  default = 80
}
