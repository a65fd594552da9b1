tasks "deploy" {
  on = group.web
    batch = [1,"50%"]
  task "exec" "restart" {
  command = ["systemctl","restart","app"]
      when = task.bundle.changed
  env = {
  A = "1"
      LONGER_NAME = "2"
  }
  }
}
