variable "a" { default = 1 }
variable "b" {
  default = 2
  validation {
    condition     = local.x > 0  # ERROR: Invalid reference in variable validation
    error_message = "no."
  }
}
