variable "port" { type = number }
