# ENV: CHOP_VAR_release=2.0
# ENV: CHOP_VAR_unrelated=ignored
variable "release" { type = string }
