# count makes web-0, web-1, web-2; count.index is the instance number.
tunnel "ssh" "web" {
  count = 3
  host  = "10.0.0.${count.index + 10}"
}
tasks "t" {
  on = tunnel.ssh.web
  task "ping" "p" {}
}
