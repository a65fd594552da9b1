tunnel "ssh" "web" {
for_each = toset(["web1","web2"])
  host = "${each.key}.internal"
    user="deploy"
  port          = 22
}
