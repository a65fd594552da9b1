c = "from-extra"
