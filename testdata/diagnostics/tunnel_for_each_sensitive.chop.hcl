variable "hosts" {
  type      = set(string)
  default   = ["a", "b"]
  sensitive = true
}
tunnel "ssh" "web" {
  for_each = var.hosts  # ERROR: Invalid for_each argument
  host     = each.key
}
