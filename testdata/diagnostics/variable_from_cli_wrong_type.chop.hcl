# VAR: replicas=three
variable "replicas" { type = number }  # ERROR(any): Invalid value for variable
