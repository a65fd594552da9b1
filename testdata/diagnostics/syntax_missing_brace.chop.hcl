tunnel "local" "me" {  # ERROR: Unclosed configuration block

tasks "x" {
  on = tunnel.local.me
}
