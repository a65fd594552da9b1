package tunnel_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

// A host's output is shown, not obeyed: a CR or an escape sequence
// cannot rewrite what the terminal shows (another host's line, say), nor
// command it; colours and tabs pass, CRLF is a line end.
func TestLinePrefixerShowsControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	p := tunnel.NewLineWriter(&buf).Stream("h", 1)
	for _, tc := range []struct{ in, want string }{
		{"plain\ttab\n", "h | plain\ttab\n"},
		{"\rdb-1 | ok\n", "h | ^Mdb-1 | ok\n"},
		{"a\x1b]0;title\x07b\x1b[2Jc\n", "h | a^[]0;title^Gb^[[2Jc\n"},
		{"\x1b[1;31mred\x1b[0m\n", "h | \x1b[1;31mred\x1b[0m\n"},
		{"dos\r\n", "h | dos\n"},
		{"bad \xff utf-8, C1 \u009b\n", "h | bad \ufffd utf-8, C1 \ufffd\n"},
		{"é ✓\n", "h | é ✓\n"},
	} {
		buf.Reset()
		p.Write([]byte(tc.in))
		if buf.String() != tc.want {
			t.Errorf("%q shown as %q, want %q", tc.in, buf.String(), tc.want)
		}
	}
}

// A line is printed whole once it ends; one that never ends is printed
// in pieces of 64 KiB, and what is left of it by Flush.
func TestLinePrefixerBoundsALineWithoutEnd(t *testing.T) {
	var buf bytes.Buffer
	p := tunnel.NewLineWriter(&buf).Stream("h", 1)
	p.Write([]byte("par"))
	p.Write([]byte("tial"))
	if buf.Len() != 0 {
		t.Fatalf("a partial line was printed: %q", buf.String())
	}
	p.Write([]byte(" line\nnext"))
	if buf.String() != "h | partial line\n" {
		t.Fatalf("printed %q", buf.String())
	}
	buf.Reset()
	p.Write(bytes.Repeat([]byte("x"), 3*64<<10))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "h | next"+strings.Repeat("x", 64<<10-4) {
		t.Fatalf("%d lines printed of a 192 KiB line without end", len(lines))
	}
	buf.Reset()
	p.Flush()
	if buf.String() != "h | xxxx\n" {
		t.Fatalf("Flush printed %q", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("output closed") }

// A failed write to the output loses that output, not the writer's caller
// (the agent's stderr relay, which a failure would end).
func TestLinePrefixerWritesDoNotFail(t *testing.T) {
	p := tunnel.NewLineWriter(failingWriter{}).Stream("h", 2)
	if n, err := p.Write([]byte("line\n")); n != 5 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
}

// writeAgentStderr has the agent write s on its own stderr (not a call's
// output): a command it runs writes to its parent's.
func writeAgentStderr(t *testing.T, tun *tunnel.Tunnel, s string) {
	t.Helper()
	if _, err := tun.Call(context.Background(), "exec", map[string]any{
		"command": []string{"sh", "-c", `printf '%s' "$1" >/proc/$PPID/fd/2`, "sh", s},
	}); err != nil {
		t.Fatal(err)
	}
}

// The agent's last stderr line, with no newline, is printed when its
// connection closes.
func TestAgentStderrFlushedAtClose(t *testing.T) {
	t.Parallel()
	out := &tunneltest.SyncBuffer{}
	tun := tunnel.New(tunnel.Local("me"), tunnel.Options{Output: out})
	writeAgentStderr(t, tun, "last words")
	tun.Close()
	if !strings.Contains(out.String(), "me | last words\n") {
		t.Fatalf("output after close: %q", out.String())
	}
}

// A failed write of the agent's stderr to the Output loses that text, not
// the connection: a Docker agent's stderr shares its stream with stdout.
func TestDockerAgentStderrWriteFailureKeepsTheConnection(t *testing.T) {
	testenv.Docker(t)
	name := testenv.RunContainer(t, testenv.BusyboxImage(t))
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}
	tun := tunnel.New(tunnel.DockerContainer("", name, opts), tunnel.Options{Output: failingWriter{}})
	defer tun.Close()
	before, err := tun.Peer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	writeAgentStderr(t, tun, "a line on stderr\n")
	if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
		t.Fatal(err)
	}
	if after, err := tun.Peer(context.Background()); err != nil || after.PID != before.PID {
		t.Fatalf("the agent was replaced (pid %d, then %d: %v): its connection was lost", before.PID, after.PID, err)
	}
}

// A line is shown whole however the writes split it: inside a character,
// inside a colour; a piece of a line without end is cut between them.
func TestLinePrefixerShowsLinesNotWrites(t *testing.T) {
	var buf bytes.Buffer
	p := tunnel.NewLineWriter(&buf).Stream("h", 1)
	p.Write([]byte("caf\xc3"))
	p.Write([]byte("\xa9 ok\nx \x1b[3"))
	p.Write([]byte("2mgreen\n"))
	if want := "h | café ok\nh | x \x1b[32mgreen\x1b[0m\n"; buf.String() != want {
		t.Fatalf("shown %q, want %q", buf.String(), want)
	}
	buf.Reset()
	p.Write([]byte(strings.Repeat("a", 64<<10-1) + "é tail"))
	p.Flush()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || lines[1] != "h | é tail" || strings.Contains(buf.String(), "\ufffd") {
		t.Fatalf("a long line cut inside a character: %q", lines[len(lines)-1])
	}
}

// A relaying command whose first process hands over to a child and exits
// (setsid forks when it leads its group, as every relay here does) keeps
// its stream, stderr included, for as long as the child runs.
func TestExecRelayThatForksKeepsItsStderr(t *testing.T) {
	t.Parallel()
	out := &tunneltest.SyncBuffer{}
	tun := tunnel.New(tunnel.Exec("forked", []string{"setsid", "env", "HOME=" + t.TempDir(), "sh"}), tunnel.Options{Output: out})
	defer tun.Close()
	// Long enough after the start for a bound on the first process's
	// output to have closed the pipe.
	if _, err := tun.Call(context.Background(), "exec", map[string]any{"command": []string{"sleep", "1.5"}}); err != nil {
		t.Fatal(err)
	}
	writeAgentStderr(t, tun, "still here\n")
	if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
		t.Fatal(err)
	}
	tun.Close()
	if !strings.Contains(out.String(), "forked | still here\n") {
		t.Fatalf("the agent's stderr after its relay's first process exited: %q", out.String())
	}
}
