package agent

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// GoValue converts plain Go data to a cty value for a call's arguments:
// nil, cty.Value, string, bool, ints, floats, and slices and string-keyed
// maps of those (maps become objects, slices tuples). Other types are an
// error rather than a guess.
func GoValue(v any) (cty.Value, error) {
	switch x := v.(type) {
	case nil:
		return cty.NilVal, nil
	case cty.Value:
		return x, nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case []string:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		vals := make([]cty.Value, len(x))
		for i, s := range x {
			vals[i] = cty.StringVal(s)
		}
		return cty.TupleVal(vals), nil
	case map[string]any:
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			cv, err := GoValue(e)
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", k, err)
			}
			if cv == cty.NilVal {
				cv = cty.NullVal(cty.DynamicPseudoType)
			}
			attrs[k] = cv
		}
		return cty.ObjectVal(attrs), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cty.NumberIntVal(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cty.NumberUIntVal(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return cty.NumberFloatVal(rv.Float()), nil
	case reflect.Slice, reflect.Array:
		vals := make([]cty.Value, rv.Len())
		for i := range vals {
			cv, err := GoValue(rv.Index(i).Interface())
			if err != nil {
				return cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
			if cv == cty.NilVal {
				cv = cty.NullVal(cty.DynamicPseudoType)
			}
			vals[i] = cv
		}
		return cty.TupleVal(vals), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		attrs := make(map[string]cty.Value, len(keys))
		for _, k := range keys {
			cv, err := GoValue(rv.MapIndex(k).Interface())
			if err != nil {
				return cty.NilVal, fmt.Errorf("%s: %w", k.String(), err)
			}
			if cv == cty.NilVal {
				cv = cty.NullVal(cty.DynamicPseudoType)
			}
			attrs[k.String()] = cv
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, fmt.Errorf("cannot convert %T to a value", v)
}
