tunnel "ssh" "web" {
  host = each.key  # ERROR: Invalid reference
}
