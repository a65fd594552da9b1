package engine

import (
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/termsafe"
)

// A call's live output that never ends a line is sent in pieces, not
// held whole, and pieces are not cut inside a character.
func TestOutputLinesBoundALineWithoutEnd(t *testing.T) {
	var lines []string
	r := &runner{opts: Options{Sink: SinkFunc(func(e Event) { lines = append(lines, e.Line) })}}
	o := r.outputLines("h", "tasks.t.x")
	o.write(1, []byte(strings.Repeat("a", termsafe.MaxLine-1)+"é"+strings.Repeat("b", 2*termsafe.MaxLine)))
	if len(lines) != 3 || lines[0] != strings.Repeat("a", termsafe.MaxLine-1) || !strings.HasPrefix(lines[1], "éb") {
		t.Fatalf("%d pieces sent; the first %d bytes", len(lines), len(lines[0]))
	}
	if n := len(o.partial[1]); n > termsafe.MaxLine {
		t.Fatalf("%d bytes held", n)
	}
	o.flush()
	if len(lines) != 4 || strings.Join(lines, "") != strings.Repeat("a", termsafe.MaxLine-1)+"é"+strings.Repeat("b", 2*termsafe.MaxLine) {
		t.Fatalf("the pieces do not make the line: %d pieces", len(lines))
	}
}

// Output for a call still waiting its turn is kept up to a bound, and
// what comes past it is counted and said, not kept.
func TestHeldOutputIsBounded(t *testing.T) {
	var lines []string
	r := &runner{opts: Options{Sink: SinkFunc(func(e Event) { lines = append(lines, e.Line) })}}
	o := r.outputLines("h", "tasks.t.x")
	o.hold()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 2 * maxHeldOutput / len(line) {
		o.write(1, line)
	}
	if o.heldBytes > maxHeldOutput {
		t.Fatalf("%d bytes held", o.heldBytes)
	}
	o.release()
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "lines of output dropped") {
		t.Fatalf("%d lines released, the last %q", len(lines), lines[len(lines)-1])
	}
}
