tunnel "ssh" "web" {
  host = "web-${1 + }"  # ERROR: Invalid expression
}
