# The plan the README's first command applies: it runs on this machine and
# needs nothing set up. It reads facts, runs a command, writes a file only
# when its content differs, and reports outputs.

variable "greeting" {
  type    = string
  default = "hello"
}

tunnel "local" "localhost" {}

tasks "hello" {
  on = tunnel.local.localhost

  task "facts" "about" {}

  task "exec" "greet" {
    command = ["echo", "${var.greeting} from ${task.about.hostname} (${task.about.distro_id} ${task.about.distro_version}, ${task.about.arch})"]
  }

  task "file" "workdir" {
    path  = "${path.module}/.chopplan"
    state = "directory"
  }

  task "file" "note" {
    path    = "${path.module}/.chopplan/hello.txt"
    content = "${var.greeting}, ${task.about.user}\n"
    mode    = "0644"
  }

  task "exec" "uptime" {
    command = "uptime"
    when    = task.note.changed
  }
}

output "kernel" {
  value = tasks.hello.about["localhost"].kernel
}

output "greeting" {
  value = tasks.hello.greet["localhost"].stdout
}
