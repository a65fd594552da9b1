package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/chopplan/chopplan/plan"
)

// KnownAfterApply is what a value that check mode cannot predict shows as.
const KnownAfterApply = "(known after apply)"

// minInnerSecret is the shortest string inside a sensitive collection that
// is masked wherever it appears in text: shorter ones ("a", "80", "ok")
// would blank out unrelated text everywhere and hide little.
const minInnerSecret = 3

// Redactor knows every sensitive string of a run and masks it in text:
// marks protect values while they stay values, but a secret also leaks as
// text, inside an error message or a line a command printed. Every
// renderer passes every string it writes through String and every value
// through Value. A nil *Redactor masks marked values only.
//
// Redactor is safe for concurrent use; String takes no lock, since it runs
// on every line of live output while Add is rare.
type Redactor struct {
	mu      sync.Mutex
	secrets map[string]bool
	rep     atomic.Pointer[strings.Replacer]
}

// NewRedactor returns a Redactor that knows no secret yet.
func NewRedactor() *Redactor {
	return &Redactor{secrets: map[string]bool{}}
}

// Add collects the sensitive strings of v: every string marked sensitive
// and every string of at least three characters inside a value marked
// sensitive. Unmarked parts of v are ignored, so Add can be given whole
// variable sets, task arguments and results.
func (r *Redactor) Add(v cty.Value) {
	var found []string
	collectSecrets(v, false, &found)
	r.addAll(found)
}

// AddString makes s a secret (a sudo password, a token read from the
// environment). Empty strings are ignored.
func (r *Redactor) AddString(s string) {
	r.addAll([]string{s})
}

func (r *Redactor) addAll(found []string) {
	if len(found) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	added := false
	for _, s := range found {
		for _, part := range secretParts(s) {
			if !r.secrets[part] {
				r.secrets[part] = true
				added = true
			}
		}
	}
	if !added {
		return
	}
	// Longest first: strings.Replacer tries patterns in argument order at
	// each position, so a secret that starts with another is masked whole.
	all := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, plan.Redacted)
	}
	r.rep.Store(strings.NewReplacer(pairs...))
}

// secretParts is s and, for a secret of several lines (a private key),
// each of its lines: live output and the journal carry text line by line,
// so the whole never appears in one string there.
func secretParts(s string) []string {
	if s == "" {
		return nil
	}
	parts := []string{s}
	if strings.ContainsAny(s, "\r\n") {
		for _, l := range strings.FieldsFunc(s, func(c rune) bool { return c == '\n' || c == '\r' }) {
			if l = strings.TrimSpace(l); len(l) >= minInnerSecret {
				parts = append(parts, l)
			}
		}
	}
	return parts
}

// collectSecrets appends the sensitive strings of v; inside says an
// enclosing value was marked.
func collectSecrets(v cty.Value, inside bool, found *[]string) {
	if !inside && !plan.Marked(v) {
		return
	}
	marked := v.HasMark(plan.Sensitive)
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		s := v.AsString()
		if marked || (inside && len(s) >= minInnerSecret) {
			*found = append(*found, s)
		}
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			collectSecrets(ev, inside || marked, found)
		}
	}
}

// String returns s with every known secret replaced by "(sensitive value)".
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	rep := r.rep.Load()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Value returns what of v may be shown: sensitive parts replaced by
// "(sensitive value)" (plan.Redact), known secrets masked inside every
// remaining string (an exec's stdout that echoed a password), unknown
// parts replaced by "(known after apply)", and no marks left. The result
// can be written with go-cty's json package or hclwrite.
func (r *Redactor) Value(v cty.Value) cty.Value {
	if v == cty.NilVal {
		return cty.NilVal
	}
	v, _ = r.maskText(plan.Redact(v)) // Redact leaves no mark at any depth
	return v
}

// MaskValue is Value without a run's Redactor: sensitive parts and
// unknowns are replaced, strings are left as they are.
func MaskValue(v cty.Value) cty.Value {
	var r *Redactor
	return r.Value(v)
}

// maskText returns v with its strings passed through String and its
// unknowns spelled out, and whether that changed anything: an unchanged
// value is v itself, not a copy. A collection whose elements change type
// becomes a tuple or an object, as in plan.Redact.
func (r *Redactor) maskText(v cty.Value) (cty.Value, bool) {
	ty := v.Type()
	switch {
	case !v.IsKnown():
		return cty.StringVal(KnownAfterApply), true
	case v.IsNull():
		return v, false
	case ty == cty.String:
		if s := v.AsString(); r.String(s) != s {
			return cty.StringVal(r.String(s)), true
		}
		return v, false
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if v.LengthInt() == 0 {
			return v, false
		}
		elems := make([]cty.Value, 0, v.LengthInt())
		changed, same := false, true
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			m, c := r.maskText(ev)
			changed = changed || c
			same = same && (!c || m.Type().Equals(ev.Type()))
			elems = append(elems, m)
		}
		switch {
		case !changed:
			return v, false
		case same && ty.IsListType():
			return cty.ListVal(elems), true
		case same && ty.IsSetType():
			return cty.SetVal(elems), true
		}
		return cty.TupleVal(elems), true
	case ty.IsMapType() || ty.IsObjectType():
		if v.LengthInt() == 0 {
			return v, false
		}
		attrs := make(map[string]cty.Value, v.LengthInt())
		changed, same := false, true
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			m, c := r.maskText(ev)
			changed = changed || c
			same = same && (!c || m.Type().Equals(ev.Type()))
			attrs[k.AsString()] = m
		}
		switch {
		case !changed:
			return v, false
		case same && ty.IsMapType():
			return cty.MapVal(attrs), true
		}
		return cty.ObjectVal(attrs), true
	}
	return v, false
}

// valueJSON is the JSON of a value already masked by Value, or nil for
// no value; go-cty's encoding keeps numbers exact.
func valueJSON(v cty.Value) json.RawMessage {
	if v == cty.NilVal {
		return nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		// Value leaves no unknowns or marks, so this is a value go-cty
		// cannot encode at all (a capsule): say so rather than drop it.
		b, _ = json.Marshal("(value not representable as JSON: " + err.Error() + ")")
	}
	return b
}
