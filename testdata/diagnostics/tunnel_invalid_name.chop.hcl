tunnel "local" "1st" {}  # ERROR: Invalid name
