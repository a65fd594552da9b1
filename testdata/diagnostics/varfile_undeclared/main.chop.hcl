variable "release" { type = string }
