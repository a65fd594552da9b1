tunnel "ssh" "a" {  # ERROR: Cycle in references
  host = "a"
  via  = tunnel.ssh.b
}
tunnel "ssh" "b" {
  host = "b"
  via  = tunnel.ssh.a
}
