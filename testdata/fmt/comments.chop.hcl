# Comments stay where they are.
variable "release" {
  type = string   # the version
  default = "1.0" // old style
  /* block comment */
}
