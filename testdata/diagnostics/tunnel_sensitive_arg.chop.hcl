# A sensitive variable may feed a sensitive argument: it stays marked.
variable "pw" {
  type      = string
  sensitive = true
  default   = "x"
}
tunnel "ssh" "web" {
  host          = "web"
  sudo          = true
  sudo_password = var.pw
}
