tasks "facts" {
  task "facts" "gather" {}
}
output "kernel" { value = { for h, r in tasks.facts.gather : h => r.kernel } }
