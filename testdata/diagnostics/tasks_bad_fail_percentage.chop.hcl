tunnel "local" "me" {}
tasks "a" {
  on                  = tunnel.local.me
  max_fail_percentage = 200  # ERROR: Invalid max_fail_percentage
  max_failures        = -1  # ERROR: Invalid max_failures
}
