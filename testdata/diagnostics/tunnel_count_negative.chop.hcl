tunnel "local" "me" {
  count = -1  # ERROR: Invalid count argument
}
