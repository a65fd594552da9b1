tunnel "ssh" "web" {
  host = "web.example.com"
  usr  = "deploy"  # ERROR: Unsupported argument
}
