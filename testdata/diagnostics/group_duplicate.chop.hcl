tunnel "local" "me" {}
group "g" { members = tunnel.local.me }
group "g" { members = tunnel.local.me }  # ERROR: Duplicate group
