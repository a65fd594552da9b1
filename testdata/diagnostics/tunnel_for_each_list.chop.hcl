tunnel "ssh" "web" {
  for_each = ["web1", "web2"]  # ERROR: Invalid for_each argument
  host     = each.key
}
