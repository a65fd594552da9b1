tunnel "local" "web1" {}
tunnel "ssh" "web" {  # ERROR: Duplicate host name
  for_each = toset(["web1", "web2"])
  host     = each.key
}
