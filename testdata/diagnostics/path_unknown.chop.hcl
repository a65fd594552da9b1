output "a" {
  value = path.home  # ERROR: Invalid reference
}
