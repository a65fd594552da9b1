variable "a" {
  default  = 1
  sensitiv = true  # ERROR: Unsupported argument
}
