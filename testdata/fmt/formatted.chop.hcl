# Already canonical: fmt leaves it alone.
locals {
  a   = 1
  bcd = "x"
}
