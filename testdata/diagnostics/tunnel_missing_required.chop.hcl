tunnel "ssh" "web" {  # ERROR: Missing required argument
  user = "deploy"
}
