group "web" {
  members = [1, 2]  # ERROR: Invalid group members
}
