# Writes a message of the day file into dir.

variable "dir" {
  type = string
}

variable "message" {
  type = string
}

tasks "install" {
  on = var.on

  task "file" "dir" {
    path  = var.dir
    state = "directory"
  }

  task "file" "motd" {
    path    = "${var.dir}/motd"
    content = "${var.message}\n"
    mode    = "0644"
  }
}

output "path" {
  value = "${var.dir}/motd"
}
