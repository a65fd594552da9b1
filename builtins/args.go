package builtins

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Readers of prepared arguments (see Spec.PrepareArgs): every attribute is
// present and of its declared type, so these only handle null.

func argString(args cty.Value, name string) string {
	v := args.GetAttr(name)
	if v.IsNull() {
		return ""
	}
	return v.AsString()
}

func argBool(args cty.Value, name string) bool {
	v := args.GetAttr(name)
	return !v.IsNull() && v.True()
}

// argInt returns the argument as an int64 and whether it was given.
func argInt(args cty.Value, name string) (int64, bool) {
	v := args.GetAttr(name)
	if v.IsNull() {
		return 0, false
	}
	i, _ := v.AsBigFloat().Int64()
	return i, true
}

func argStringMap(args cty.Value, name string) map[string]string {
	v := args.GetAttr(name)
	if v.IsNull() {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		if !e.IsNull() {
			out[k] = e.AsString()
		}
	}
	return out
}

// argDuration reads a duration given as a string ("1m30s") or a number of seconds.
func argDuration(args cty.Value, name string) (time.Duration, error) {
	v := args.GetAttr(name)
	if v.IsNull() {
		return 0, nil
	}
	if v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		return time.Duration(f * float64(time.Second)), nil
	}
	if v.Type() != cty.String {
		return 0, fmt.Errorf("%s must be a duration such as \"30s\", not %s", name, v.Type().FriendlyName())
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		return 0, fmt.Errorf("%s: %v", name, err)
	}
	return d, nil
}

func intVal(i int64) cty.Value { return cty.NumberIntVal(i) }
