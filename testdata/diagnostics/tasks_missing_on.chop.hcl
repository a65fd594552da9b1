tasks "t" {  # ERROR: Missing required argument
  task "ping" "p" {}
}
