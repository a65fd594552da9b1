# A rolling deploy across three Docker containers made from one image:
# one container first, then the rest, stopping at the first failure.
# Images are not pulled: give one this machine has, e.g.
#   chopplan apply -var image=busybox:latest examples/plans/rolling-docker

variable "image" {
  type        = string
  description = "An image present on this machine (its containers need a shell)."
  default     = "busybox:latest"
}

variable "release" {
  type    = string
  default = "1.0.0"
}

tunnel "docker-image" "web" {
  for_each = toset(["web1", "web2", "web3"])
  image    = var.image
}

tasks "deploy" {
  on           = tunnel.docker-image.web
  batch        = [1, "100%"]
  max_failures = 0

  task "file" "release" {
    path    = "/tmp/release"
    content = "${var.release}\n"
  }

  task "exec" "restart" {
    command = ["sh", "-c", "echo restarting $(hostname) on $(cat /tmp/release)"]
    when    = task.release.changed
  }

  task "wait_for" "healthy" {
    path     = "/tmp/release"
    contains = var.release
    timeout  = "10s"
  }
}

output "released" {
  value = { for host, r in tasks.deploy.restart : host => trimspace(r.stdout) }
}
