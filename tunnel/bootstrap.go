package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/chopplan/chopplan/agent"
)

// AgentStartError is a reachable host where the agent could not be
// started: no shell, no writable directory, no agent for its platform, a
// sudo that wants a password, a checksum that did not match. Reason says
// what happened, Fix (when known) what to change.
type AgentStartError struct {
	Host   string
	Reason string
	Fix    string
}

func (e *AgentStartError) Error() string {
	msg := fmt.Sprintf("tunnel: agent failed to start on %s: %s", e.Host, e.Reason)
	if e.Fix != "" {
		msg += ". " + e.Fix
	}
	return msg
}

// bootstrapMarker begins every line the bootstrap script writes to its
// stdout, so the controller can tell them from anything else a login
// writes there.
const bootstrapMarker = "chopplan-bootstrap"

// uploadSumMismatch and uploadDamaged begin the script's errors for an
// upload whose sha256 is not the one sent with it, and for one that does
// not unpack or is short; the latter says uploadUnchecked when the host
// had no sha256 tool to tell a damaged upload from a failure of its own
// (a full disk).
const (
	uploadSumMismatch = "the agent upload's sha256 is"
	uploadDamaged     = "the agent upload arrived damaged or cut short"
	uploadUnchecked   = "no sha256 tool on this host"
)

// bootstrapScript is sent to a POSIX sh on its stdin. It is one { } block
// so the shell reads all of it before running any of it: later bytes on
// stdin (the agent upload, then the agent's own stream) then reach the
// commands meant to read them, not the shell's read-ahead buffer. The
// controller sends nothing until the script asks, for the same reason.
//
// Lines to the controller: "probe OS ARCH CHECKED ENC" when it needs to
// know which agent to run; "missing" after a check; "start" right before
// the agent runs; "error MESSAGE" before it gives up. Lines from the
// controller: "check SHA256" and "put SHA256 SIZE UPLOAD-SHA256" followed
// by SIZE bytes, whose own sha256 is the last field.
//
// The common case comes first and costs no fork at all on Linux 6.1 and
// later (one, for uname, elsewhere): this controller's own agent is
// cached and the host's platform is the controller's.
//
// head -c is not POSIX but is in GNU coreutils, busybox, the BSDs and
// macOS. Busybox's reads through stdio and may read past SIZE, which is
// harmless because nothing follows the upload until the script answers.
// The agent travels zstd-compressed where the host has zstd (it unpacks
// three times as fast as gzip, which matters on a host's small CPU),
// else gzip'd, else as it is. What is checked by sha256 is the upload
// as it came, while it unpacks (on a second CPU): the codec's own
// checksum of what it unpacks (zstd's, which chopplan's encoder writes,
// and gzip's CRC) then ties the agent to those bytes, and the agent's
// handshake names its build, which must be the one expected. Hashing the
// 14 MB agent after unpacking it cost a first connect 19 ms more. The
// sha256 tool is whichever the host has, openssl first: it uses the CPU's
// SHA instructions and hashes in a third of the time coreutils' sha256sum
// takes. With none, the codec's own check (and a raw upload's length)
// still catches a damaged upload, and a warning says so.
// A decompressor that fails, or a raw upload cut short, ends the script
// with an error and leaves nothing installed. The compressed upload is
// received into a file and unpacked from there: piping it from head into
// the decompressor, the two woke each other for every piece, and over
// sshd on a 2-vCPU VM that took 400 ms where a plain cat of the same
// bytes took 310 (head into a file, then unpacking it: 340); with the
// hash moved alongside the unpacking, a whole first connect went from
// 0.376 to 0.274 s. It still is: with the upload paced (pacedWriter), a
// pipe from head into zstd made the upload 60-125 ms where head into a
// file took 25-45, for 25 ms less unpacking after it.
//
// Every fork costs a millisecond or more, so the ones not on the way to
// the agent run while the script waits anyway: the cache directory is
// made after the probe is sent, while the controller answers; the agent's
// file is made executable while the upload arrives; the upload's file is
// removed while the agent's is renamed into place.
const bootstrapScript = `{
m=` + bootstrapMarker + `
say() { printf '%s %s\n' "$m" "$*"; }
die() { say error "$*"; exit 1; }
sha=@SELFSHA@
u=
if [ -n "${HOME:-}" ] && [ -x "$HOME/.cache/chopplan/agent-$sha" ]; then
	# Linux 6.1 and later say what uname -m does in a file the shell reads
	# itself; elsewhere, or when it is missing, uname is asked.
	if { read -r os </proc/sys/kernel/ostype && read -r arch </proc/sys/kernel/arch; } 2>/dev/null; then
		u="$os $arch"
	else
		u=$(uname -sm 2>/dev/null)
	fi
	case $u in @SELFCASE@) say start; exec "$HOME/.cache/chopplan/agent-$sha" agent ;; esac
	u= # not this controller's platform: uname names it below (the file ignores personality)
fi
[ -n "$u" ] || u=$(uname -sm 2>/dev/null) || die "uname failed"
os=${u% *} arch=${u##* }
case "$os $arch" in @SELFCASE@) ;; *) sha= ;; esac
if [ -n "$sha" ] && [ -n "${HOME:-}" ] && [ -x "$HOME/.cache/chopplan/agent-$sha" ]; then
	say start; exec "$HOME/.cache/chopplan/agent-$sha" agent
fi
z=raw
if command -v zstd >/dev/null 2>&1; then z=zst; elif command -v gzip >/dev/null 2>&1; then z=gz; fi
say probe "$os" "$arch" "${sha:--}" "$z"
# The directory is made while the controller answers.
tmp=
d=${HOME:-}/.cache/chopplan
private() { if [ -d "$1" ]; then chmod 700 "$1"; else mkdir -p -m 700 "$1"; fi; }
if [ -z "${HOME:-}" ] || ! private "$d" 2>/dev/null || ! [ -w "$d" ] || ! [ -x "$d" ]; then
	d=$(mktemp -d "${TMPDIR:-/tmp}/chopplan.XXXXXXXX" 2>/dev/null) || die "no writable directory for the agent: \$HOME/.cache/chopplan is not writable and mktemp -d failed"
	tmp=$d
	echo "chopplan: \$HOME/.cache/chopplan is not writable; using $d for this run (the agent is not cached)" >&2
fi
# sum prints the sha256 of the file $1, read on stdin (so no tool quotes
# or escapes its name), as the first word of its line; "none" without a tool.
sum() {
	if command -v openssl >/dev/null 2>&1 && s=$(openssl dgst -sha256 -r <"$1" 2>/dev/null) && [ -n "$s" ]; then echo "$s"
	elif command -v sha256sum >/dev/null 2>&1; then sha256sum <"$1"
	elif command -v shasum >/dev/null 2>&1; then shasum -a 256 <"$1"
	elif command -v sha256 >/dev/null 2>&1; then sha256 -q <"$1"
	else echo none
	fi
}
a=
while [ -z "$a" ]; do
	read -r cmd sha size usha || exit 1
	case $cmd in
	check)
		if [ -x "$d/agent-$sha" ]; then a=$d/agent-$sha; else say missing; fi ;;
	put)
		[ -n "$usha" ] || die "malformed put line from the controller"
		t=$d/.agent-$sha.$$
		u=$t.z
		[ "$z" = raw ] && u=$t
		# Nothing is left behind: the files go before the error is told
		# (the controller may end the session as soon as it reads it),
		# and when the session is cut mid-upload.
		clean() { rm -f "$t" "$u"; }
		fail() { clean; die "$@"; }
		trap 'clean; exit 1' HUP INT TERM PIPE
		# The agent's file is made executable while the upload arrives;
		# unpacking into it keeps its mode.
		: >"$t" || fail "the agent could not be written to $d"
		chmod 700 "$t" & x=$!
		head -c "$size" >"$u" || fail "the agent upload could not be written to $d"
		case $z in
		zst) zstd -dcq "$u" >"$t" & ;;
		gz) gzip -dc "$u" >"$t" & ;;
		*) n=$(wc -c <"$t") && [ "$n" -eq "$size" ] || fail "` + uploadDamaged + ` ($z)" ;;
		esac
		h=$(sum "$u") # while it unpacks
		h=${h%% *}
		r=0
		[ "$z" = raw ] || wait $! || r=$?
		if [ "$h" != none ] && [ "$h" != "$usha" ]; then
			fail "` + uploadSumMismatch + ` $h, expected $usha"
		fi
		if [ "$r" -ne 0 ]; then
			[ "$h" != none ] || fail "` + uploadDamaged + ` ($z; ` + uploadUnchecked + `)"
			fail "` + uploadDamaged + ` ($z)"
		fi
		y=
		if [ "$z" != raw ]; then rm -f "$u" & y=$!; fi # alongside the mv
		wait $x && mv -f "$t" "$d/agent-$sha" || fail "cannot install the agent in $d"
		[ -z "$y" ] || wait $y
		trap - HUP INT TERM PIPE
		[ "$h" != none ] || echo "chopplan: warning: ` + uploadUnchecked + ` (sha256sum, shasum, sha256, openssl); the agent upload was checked only by its length and, when compressed, the codec's checksum" >&2
		a=$d/agent-$sha ;;
	*) exit 1 ;;
	esac
done
say start
if [ -n "$tmp" ]; then "$a" agent; r=$?; rm -rf "$tmp"; exit $r; fi
exec "$a" agent
}
`

// unameOS and unameArch map uname -s and uname -m to Go's names.
var (
	unameOS = map[string]string{
		"Linux": "linux", "Darwin": "darwin", "FreeBSD": "freebsd", "OpenBSD": "openbsd",
		"NetBSD": "netbsd", "DragonFly": "dragonfly", "SunOS": "solaris",
	}
	unameArch = map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "aarch64_be": "arm64be",
		"i386": "386", "i486": "386", "i586": "386", "i686": "386", "x86": "386",
		"armv6l": "arm", "armv7l": "arm", "armv7": "arm", "armv8l": "arm", "arm": "arm",
		"riscv64": "riscv64", "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x",
		"mips64": "mips64", "mips": "mips", "loongarch64": "loong64",
	}
)

// goPlatform maps a target's uname to GOOS/GOARCH.
func goPlatform(sysname, machine string) (string, string, bool) {
	g, ok1 := unameOS[sysname]
	a, ok2 := unameArch[machine]
	return g, a, ok1 && ok2
}

// selfCase is the sh case pattern that matches this process's platform.
func selfCase() string {
	var pats []string
	for uos, gos := range unameOS {
		if gos != runtime.GOOS {
			continue
		}
		for uarch, garch := range unameArch {
			if garch == runtime.GOARCH {
				pats = append(pats, "'"+uos+" "+uarch+"'")
			}
		}
	}
	if len(pats) == 0 {
		return "'-'"
	}
	return strings.Join(pats, "|")
}

// scriptFor is the bootstrap script that already knows this process's own
// agent, so a cached agent on a same-platform host starts with no question
// asked: one round trip in all.
func scriptFor(self *AgentBinary) string {
	sha, pat := "-", "'-'"
	if self != nil {
		sha, pat = self.SHA256, selfCase()
	}
	return strings.NewReplacer("@SELFSHA@", sha, "@SELFCASE@", pat).Replace(bootstrapScript)
}

// bootstrapResult is an agent started by the script.
type bootstrapResult struct {
	// Binary is the agent that runs on the target.
	Binary *AgentBinary
	// Uploaded is true when the binary was sent (it was not cached).
	Uploaded bool
}

// bootstrap starts the agent through a POSIX sh whose stdin is w and
// whose stdout is r: it sends the script, answers its questions, uploads
// the agent when the target does not have it, and returns once the agent
// is about to run. From then on r carries the agent's frames and w is the
// agent's stdin. The caller aborts a stuck bootstrap by closing the
// transport when ctx ends.
func bootstrap(ctx context.Context, host string, w io.Writer, r *bufio.Reader, env *StartEnv) (bootstrapResult, error) {
	var res bootstrapResult
	agents := env.Agents
	if agents == nil {
		agents = DefaultAgentBinaries()
	}
	self, selfErr := agents.Self()
	if _, err := io.WriteString(w, scriptFor(self)); err != nil {
		return res, fmt.Errorf("tunnel: sending the bootstrap script to %s: %w", host, err)
	}
	fail := func(reason, fix string) (bootstrapResult, error) {
		return res, &AgentStartError{Host: host, Reason: reason, Fix: fix}
	}
	var bin *AgentBinary
	enc := "gz"
	// scriptFailed is the script's "error" line as the bootstrap's error.
	// An upload it refused may be a cached copy damaged since: dropped, it
	// is made again next time.
	scriptFailed := func(line string) (bootstrapResult, error) {
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error"))
		if bin != nil && res.Uploaded && (strings.Contains(msg, uploadSumMismatch) || strings.Contains(msg, uploadUnchecked)) {
			bin.dropUpload(enc)
		}
		return fail(msg, "")
	}
	// An upload the script stopped reading (it gave up early: a full disk)
	// ends in a broken pipe; the script's own last word says why. One whose
	// bytes could not be read leaves the script waiting for them: the
	// caller ends the session.
	uploadFailed := func(err error) (bootstrapResult, error) {
		var src *sourceError
		if errors.As(err, &src) {
			bin.forgetUpload(enc)
			return res, fmt.Errorf("tunnel: uploading the agent to %s: %w", host, err)
		}
		if line, rerr := readBootstrapLine(r, env.Stderr); rerr == nil && strings.HasPrefix(line, "error") {
			return scriptFailed(line)
		}
		return res, fmt.Errorf("tunnel: uploading the agent to %s: %w", host, err)
	}
	for {
		line, err := readBootstrapLine(r, env.Stderr)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return fail(fmt.Sprintf("the shell ended before the agent started (%v)", err),
				"The target needs a POSIX sh with uname, mkdir and head (and zstd or gzip to receive the agent compressed); its stderr (above) says more")
		}
		f := strings.Fields(line) // not empty: readBootstrapLine
		switch f[0] {
		case "start":
			if bin == nil {
				bin = self
				if self == nil {
					return res, selfErr
				}
			}
			res.Binary = bin
			return res, nil
		case "error":
			return scriptFailed(line)
		case "probe":
			if len(f) < 5 {
				return fail("malformed reply from the bootstrap script: "+strconv.Quote(line), "")
			}
			goos, goarch, ok := goPlatform(f[1], f[2])
			if !ok {
				return fail(fmt.Sprintf("unsupported platform %s %s (uname -s, uname -m)", f[1], f[2]), "chopplan has agents for "+strings.Join(agents.Platforms(), ", "))
			}
			bin, err = agents.For(goos, goarch)
			if err != nil {
				return fail(err.Error(), "")
			}
			// The encoding names a cached file on this side (dropUpload):
			// only the script's three words are taken.
			if enc = f[4]; enc != "zst" && enc != "gz" && enc != "raw" {
				return fail("malformed reply from the bootstrap script: "+strconv.Quote(line), "")
			}
			if f[3] == bin.SHA256 {
				// The script looked for this one already: send it.
				if err := upload(w, bin, enc); err != nil {
					return uploadFailed(err)
				}
				res.Uploaded = true
				continue
			}
			if _, err := fmt.Fprintf(w, "check %s\n", bin.SHA256); err != nil {
				return res, fmt.Errorf("tunnel: bootstrap on %s: %w", host, err)
			}
		case "missing":
			if bin == nil {
				return fail("malformed reply from the bootstrap script: "+strconv.Quote(line), "")
			}
			if err := upload(w, bin, enc); err != nil {
				return uploadFailed(err)
			}
			res.Uploaded = true
		default:
			return fail("malformed reply from the bootstrap script: "+strconv.Quote(line), "")
		}
	}
}

// upload sends "put SHA SIZE UPLOAD-SHA" and the agent in the encoding
// the target unpacks: "zst", "gz", or "raw" as it is. An upload that could
// not be made or read is a *sourceError.
func upload(w io.Writer, bin *AgentBinary, enc string) error {
	up, err := bin.Upload(enc)
	if err != nil {
		return &sourceError{err}
	}
	r, done, err := up.source() // before the put line: the script would wait for what is missing
	if err != nil {
		return err
	}
	defer done()
	if _, err := fmt.Fprintf(w, "put %s %d %s\n", bin.SHA256, up.Size, up.SHA256); err != nil {
		return err
	}
	_, err = up.send(w, r)
	return err
}

// readBootstrapLine returns the next line of the script's, without its
// marker (readMarkedLine).
func readBootstrapLine(r *bufio.Reader, stderr io.Writer) (string, error) {
	return readMarkedLine(r, bootstrapMarker, stderr)
}

// errTooMuchOutput ends a wait for a marked line that a host answers with
// other output, on and on.
var errTooMuchOutput = errors.New("more than 64 KiB of unexpected output on stdout")

// readMarkedLine returns the next line that begins with marker and a
// space, without them, and with at least one word: the bootstrap
// script's lines, and the sudo wrapper's. What a login writes to stdout
// first (a chatty ~/.bashrc, say) is passed to stderr, once, with a note,
// so it neither breaks the bootstrap nor goes unnoticed; so is what
// precedes the marker on its line (such output with no newline of its
// own). At most 64 KiB of it is taken, in lines of at most r's buffer
// size.
func readMarkedLine(r *bufio.Reader, marker string, stderr io.Writer) (string, error) {
	for skipped := 0; ; {
		b, err := r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return "", describeBootstrapEOF(err, string(b))
		}
		line := strings.TrimRight(string(b), "\r\n")
		if err == nil {
			if i := strings.Index(line, marker+" "); i >= 0 {
				if rest := line[i+len(marker)+1:]; strings.TrimSpace(rest) != "" {
					ignoreOutput(stderr, line[:i])
					return rest, nil
				}
			}
		}
		if skipped += len(b); skipped > 64<<10 {
			return "", errTooMuchOutput
		}
		ignoreOutput(stderr, line)
	}
}

// ignoreOutput tells stderr, when there is one, of output on stdout
// that is not the bootstrap's.
func ignoreOutput(stderr io.Writer, s string) {
	if stderr != nil && s != "" {
		fmt.Fprintf(stderr, "chopplan: ignoring output on stdout before the agent started: %s\n", strings.ToValidUTF8(s, "?"))
	}
}

func describeBootstrapEOF(err error, partial string) error {
	if err == io.EOF {
		if partial != "" {
			return fmt.Errorf("end of output after %q", partial)
		}
		return fmt.Errorf("end of output")
	}
	return err
}

// buildIDs caches the Go build ID of each agent binary by path: reading
// it means opening the ELF file, and each connection needs it.
var buildIDs sync.Map // path -> string

// buildOf is the build identity the agent in bin will report.
func buildOf(bin *AgentBinary) string {
	if bin == nil {
		return agent.SelfBuild()
	}
	if runtime.GOOS == bin.OS && runtime.GOARCH == bin.Arch {
		return agent.SelfBuild()
	}
	if v, ok := buildIDs.Load(bin.Path); ok {
		return v.(string)
	}
	id := agent.BuildID(bin.Path)
	buildIDs.Store(bin.Path, id)
	return id
}

// bootstrapStream is an agent started by the bootstrap: reads come
// through the reader that read the script's lines (it may hold the
// agent's first bytes already), writes go straight to the transport.
type bootstrapStream struct {
	r       *bufio.Reader
	w       io.Writer
	close   func() error
	readErr func(error) error
}

func (s *bootstrapStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && s.readErr != nil {
		err = s.readErr(err)
	}
	return n, err
}

func (s *bootstrapStream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *bootstrapStream) Close() error                { return s.close() }
