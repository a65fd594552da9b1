tunnel "local" "me" {
  for_each = toset(["a"])
  count    = 2  # ERROR: Invalid combination of count and for_each
}
