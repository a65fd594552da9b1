b = "from-file"
c = "from-file"
