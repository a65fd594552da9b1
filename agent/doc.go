// Package agent owns chopplan's wire protocol and both of its ends: the
// agent's serve loop, which runs builtins on a target, and the controller's
// Client, which multiplexes calls, file streams and cancellation over one
// agent's stdin and stdout.
//
// A stream carries length-prefixed frames (see frame.go). Every call has an
// id; results, errors, live output and data chunks come back tagged with it,
// in any order. Arguments and results are cty values encoded as msgpack with
// their type, checked for bounds before they are decoded, so nothing a target
// sends can make the controller run code or allocate without bound.
package agent
