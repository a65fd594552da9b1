tunnel "sshh" "web" {  # ERROR: Unsupported tunnel kind
  host = "web.example.com"
}
