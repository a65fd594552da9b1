variable "replicas" {
  type    = number
  default = 0
  validation {
    condition     = var.replicas > 0  # ERROR: Invalid value for variable
    error_message = "replicas must be at least 1."
  }
}
