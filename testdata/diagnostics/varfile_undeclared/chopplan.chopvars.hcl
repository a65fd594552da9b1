release = "2.0"
relase  = "2.1"  # WARNING: Value for undeclared variable
