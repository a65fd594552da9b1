package builtins

import "github.com/zclconf/go-cty/cty"

// ParseMode reads a mode argument as every builtin does: a string of
// octal digits ("0644") or a number (its value). -1 means null (keep).
// The engine uses it for the controller side of put.
func ParseMode(v cty.Value) (int64, error) { return parseMode(v) }
