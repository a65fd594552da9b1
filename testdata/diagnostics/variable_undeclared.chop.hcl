variable "release" {
  type    = string
  default = "1"
}
tunnel "ssh" "web" {
  host = "web-${var.relase}"  # ERROR: Reference to undeclared input variable
}
