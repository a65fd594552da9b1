group "web" {  # ERROR: Missing required argument
  where = true
}
