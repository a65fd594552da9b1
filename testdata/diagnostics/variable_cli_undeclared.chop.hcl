# VAR: relase=3
variable "release" { default = "1" }  # ERROR(any): Value for undeclared variable
