tunel "local" "me" {}  # ERROR: Unsupported block type
