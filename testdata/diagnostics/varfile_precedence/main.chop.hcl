# Later sources win: environment < chopplan.chopvars.hcl < *.auto.chopvars.hcl
# < -var and -var-file in command-line order. Each validation checks the
# winner, so a wrong precedence is an error here.
# ENV: CHOP_VAR_a=from-env
# VARFILE: extra.chopvars.hcl
# VAR: c=from-cli
variable "a" {
  type = string
  validation {
    condition     = var.a == "from-env"
    error_message = "a should come from the environment."
  }
}
variable "b" {
  type = string
  validation {
    condition     = var.b == "from-auto"
    error_message = "b should come from x.auto.chopvars.hcl."
  }
}
variable "c" {
  type = string
  validation {
    condition     = var.c == "from-cli"
    error_message = "c should come from -var, after -var-file."
  }
}
