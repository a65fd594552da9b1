# VAR: name=x
variable "name" {
  type     = string
  nullable = false
  default  = null  # ERROR: Invalid default value for variable
}
