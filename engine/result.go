package engine

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/tunnel"
)

// Failure is what went wrong on one host.
type Failure struct {
	Host    string
	Message string
	// Detail is the remote detail when the target sent one (a stack trace).
	Detail string
	// Unreachable is true when the host's agent could not be started or
	// its connection was lost, rather than a call failing on it.
	Unreachable bool
	// Value is a result that came with the failure (an exec's rc and
	// output), or cty.NilVal.
	Value cty.Value
	Err   error
}

func (f *Failure) Error() string { return f.Host + ": " + f.Message }
func (f *Failure) Unwrap() error { return f.Err }

// NewFailure describes err as host's failure.
func NewFailure(host string, err error) *Failure {
	f := &Failure{Host: host, Message: err.Error(), Err: err}
	var re *agent.RemoteError
	var ue *tunnel.UnreachableError
	switch {
	case errors.As(err, &re):
		f.Message, f.Detail, f.Value = re.Message, re.Detail, re.Value
		if re.Func != "" {
			f.Message = re.Func + ": " + re.Message
		}
	case errors.As(err, &ue):
		f.Unreachable = true
		f.Message = ue.Err.Error()
	case agent.IsConnError(err):
		f.Unreachable = true
	}
	return f
}

// GroupResult holds one operation's outcome on every host of a group: a
// value per host that succeeded and a Failure per host that did not.
type GroupResult[T any] struct {
	values   map[string]T
	failures map[string]*Failure
}

func newGroupResult[T any]() *GroupResult[T] {
	return &GroupResult[T]{values: map[string]T{}, failures: map[string]*Failure{}}
}

func (r *GroupResult[T]) set(host string, v T, err error) {
	if err != nil {
		r.failures[host] = NewFailure(host, err)
		return
	}
	r.values[host] = v
}

// Get returns host's value, or its failure as the error.
func (r *GroupResult[T]) Get(host string) (T, error) {
	if f, ok := r.failures[host]; ok {
		var zero T
		return zero, f
	}
	v, ok := r.values[host]
	if !ok {
		return v, fmt.Errorf("engine: no result for host %q", host)
	}
	return v, nil
}

// Successful yields (host, value) for each host that succeeded, by host name.
func (r *GroupResult[T]) Successful() iter.Seq2[string, T] {
	return func(yield func(string, T) bool) {
		for _, h := range sortedKeys(r.values) {
			if !yield(h, r.values[h]) {
				return
			}
		}
	}
}

// Failures yields (host, failure) for each host that failed, by host name.
func (r *GroupResult[T]) Failures() iter.Seq2[string, *Failure] {
	return func(yield func(string, *Failure) bool) {
		for _, h := range sortedKeys(r.failures) {
			if !yield(h, r.failures[h]) {
				return
			}
		}
	}
}

// Hosts lists every host with a result, by name.
func (r *GroupResult[T]) Hosts() []string {
	hosts := append(sortedKeys(r.values), sortedKeys(r.failures)...)
	sort.Strings(hosts)
	return hosts
}

// Len is the number of hosts with a result; Failed the number that failed.
func (r *GroupResult[T]) Len() int    { return len(r.values) + len(r.failures) }
func (r *GroupResult[T]) Failed() int { return len(r.failures) }

// Err is nil when every host succeeded, else a *GroupError listing every
// failed host (Chopsticks' raise_failures).
func (r *GroupResult[T]) Err() error {
	if len(r.failures) == 0 {
		return nil
	}
	ge := &GroupError{}
	for _, f := range r.Failures() {
		ge.Failures = append(ge.Failures, f)
	}
	return ge
}

// GroupError is an operation that failed on some hosts.
type GroupError struct{ Failures []*Failure }

func (e *GroupError) Error() string {
	lines := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		lines[i] = f.Error()
	}
	return fmt.Sprintf("failed on %d host(s):\n  %s", len(e.Failures), strings.Join(lines, "\n  "))
}

// Unwrap lets errors.As find a host's error.
func (e *GroupError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f
	}
	return out
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
