tunnel "ssh" "web" {
  host = host.name  # ERROR: Invalid reference
}
