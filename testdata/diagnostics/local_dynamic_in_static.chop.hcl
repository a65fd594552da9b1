tunnel "local" "me" {}
locals {
  kernels = { for h, r in tasks.facts.gather : h => r.kernel }
}
tasks "facts" {
  on = tunnel.local.me
  task "facts" "gather" {}
}
group "g" {
  members = keys(local.kernels)  # ERROR: Invalid reference
}
