tunnel "ssh" "web" {
  host = "web"
  via  = "bastion"  # ERROR: Invalid via
}
