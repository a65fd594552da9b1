# A sample of the function library: none of these is an error.
locals {
  a = upper(trimspace("  x "))
  b = jsonencode({ a = [1, 2] })
  c = yamlencode({ a = 1 })
  d = sha256("x")
  e = setunion(["a"], ["b"])
  f = base64encode("x")
  g = cidrsubnet("10.0.0.0/8", 8, 2)
  h = replace("a-b-c", "/-/", "+")
  i = startswith("abc", "a")
  j = try(local.a, "fallback")
  k = formatdate("YYYY", "2024-01-02T03:04:05Z")
  l = merge({ a = 1 }, { b = 2 })
  m = templatefile("${path.module}/functions_library.tmpl", { name = "x" })
  n = alltrue([true, startswith("ab", "a")])
  o = one(["x"])
  p = sum([1, 2, 3])
}
output "all" {
  value = [local.a, local.b, local.c, local.d, local.f, local.g, local.h, local.m, local.o]
}
