module "git::file:///nonexistent/nginx.git?ref=v1" {
  commit = "0123456789abcdef0123456789abcdef01234567"
  hash   = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}
