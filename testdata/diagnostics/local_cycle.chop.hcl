locals {
  a = local.b  # ERROR: Cycle in references
  b = local.a
}
