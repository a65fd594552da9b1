tunnel "local" "me" {}
output "x" {
  value = task.e  # ERROR: Invalid reference
}
