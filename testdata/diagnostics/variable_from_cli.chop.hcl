# VAR: replicas=3
# VAR: tags=["a","b"]
variable "replicas" { type = number }
variable "tags" { type = list(string) }
