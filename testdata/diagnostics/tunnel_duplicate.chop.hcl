tunnel "local" "me" {}
tunnel "local" "me" {}  # ERROR: Duplicate tunnel
