tunnel "ssh" "web" {
  host = "web.example.com"
  port = "twenty-two"  # ERROR: Incorrect attribute value type
}
