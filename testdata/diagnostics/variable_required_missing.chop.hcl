variable "release" {  # ERROR: No value for required variable
  type = string
}
