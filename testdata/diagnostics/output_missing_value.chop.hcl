output "a" {  # ERROR: Missing required argument
  description = "nothing"
}
