variable "on" {}  # ERROR: Reserved variable name
