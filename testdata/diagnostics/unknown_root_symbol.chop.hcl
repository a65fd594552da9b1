output "a" {
  value = vars.x  # ERROR: Unknown variable
}
