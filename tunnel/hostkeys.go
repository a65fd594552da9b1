package tunnel

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/chopplan/chopplan/internal/atomicfile"
)

// HostKeyMode is how an SSH tunnel treats a host key that known_hosts does
// not vouch for.
type HostKeyMode string

// Host key modes, named after OpenSSH's StrictHostKeyChecking values.
const (
	// HostKeyStrict refuses unknown and changed keys. It is the default.
	HostKeyStrict HostKeyMode = "strict"
	// HostKeyAcceptNew records an unknown key in known_hosts, with a
	// warning, and refuses a changed one.
	HostKeyAcceptNew HostKeyMode = "accept-new"
	// HostKeyOff accepts any key, with a warning on every connection.
	HostKeyOff HostKeyMode = "off"
)

// ParseHostKeyMode reads a mode as users write it: chopplan's names, or
// the values OpenSSH's StrictHostKeyChecking takes ("yes", "accept-new",
// "no"; "ask" means strict, as nothing here prompts).
func ParseHostKeyMode(s string) (HostKeyMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "strict", "yes", "ask", "true":
		return HostKeyStrict, nil
	case "accept-new", "acceptnew":
		return HostKeyAcceptNew, nil
	case "off", "no", "false", "insecure":
		return HostKeyOff, nil
	}
	return "", fmt.Errorf("tunnel: unknown host key mode %q (want strict, accept-new or off)", s)
}

// HostKeyError is a host refused because of its key, before anything ran
// on it. It says which key the host offered and what to change to trust it.
type HostKeyError struct {
	// Host is the address as known_hosts names it ("host" or "[host]:port").
	Host string
	// Key is the key the host offered.
	Key ssh.PublicKey
	// Changed is true when known_hosts holds other keys for the host: the
	// host was reinstalled, or someone is in the middle. False means the
	// host is unknown.
	Changed bool
	// Known are the known_hosts entries that did not match (when Changed).
	Known []knownhosts.KnownKey
	// KnownHostsFile is where a line for the host belongs.
	KnownHostsFile string
	// Revoked is true when the key is marked @revoked in known_hosts.
	Revoked bool
	// Certificate says why the host's certificate was refused, when a
	// @cert-authority line covers the host.
	Certificate string
}

// Line is the known_hosts line that would trust the offered key.
func (e *HostKeyError) Line() string { return knownhosts.Line([]string{e.Host}, e.Key) }

func (e *HostKeyError) Error() string {
	fp := ssh.FingerprintSHA256(e.Key)
	switch {
	case e.Certificate != "":
		return fmt.Sprintf("tunnel: ssh: host certificate of %s (%s) refused: %s. "+
			"Check the @cert-authority line for the host in known_hosts and the certificate's principals and validity",
			e.Host, ssh.FingerprintSHA256(e.Key), e.Certificate)
	case e.Revoked:
		return fmt.Sprintf("tunnel: ssh: host key of %s (%s %s) is marked @revoked in known_hosts; the host cannot be trusted with it", e.Host, e.Key.Type(), fp)
	case e.Changed:
		var was []string
		for _, k := range e.Known {
			was = append(was, fmt.Sprintf("%s:%d has %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
		}
		return fmt.Sprintf("tunnel: ssh: HOST KEY OF %s HAS CHANGED: it offered %s %s, but %s. "+
			"Someone may be intercepting the connection, or the host was reinstalled. "+
			"If the change is expected, remove the old entry (ssh-keygen -R '%s' -f %s) and add this line to %s: %s",
			e.Host, e.Key.Type(), fp, strings.Join(was, "; "), e.Host, e.Known[0].Filename, e.KnownHostsFile, e.Line())
	}
	return fmt.Sprintf("tunnel: ssh: host key of %s is unknown (it offered %s %s). "+
		"If that is the right key, add this line to %s: %s "+
		"(or connect once with host key mode accept-new, or with OpenSSH's ssh, to record it)",
		e.Host, e.Key.Type(), fp, e.KnownHostsFile, e.Line())
}

// hostKeyPolicy checks host keys against known_hosts files in one mode.
type hostKeyPolicy struct {
	mode HostKeyMode
	// files are read in order.
	files []string
	// record is where accept-new writes an unknown key, "" for nowhere
	// (the key is accepted for this connection only).
	record string
	// hash writes new entries hashed, as OpenSSH's HashKnownHosts does.
	hash bool
	// warn receives warnings (accept-new recording, mode off).
	warn io.Writer
}

// dummyHostKey is a key no host has: checking it against known_hosts
// lists the keys recorded for a host without matching any of them.
var dummyHostKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, _ := ed25519.GenerateKey(nil)
	k, _ := ssh.NewPublicKey(pub)
	return k
})

// database reads the known_hosts files that exist (OpenSSH ignores
// missing ones; so do we, so a first run with accept-new works).
func (p *hostKeyPolicy) database() (ssh.HostKeyCallback, error) {
	var files []string
	for _, f := range p.files {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("tunnel: ssh: reading known_hosts: %w", err)
	}
	return cb, nil
}

// knownAlgorithms returns the host key algorithms known_hosts holds for
// addr, best first, so that the handshake asks the host for a key we can
// check. Without it x/crypto/ssh may negotiate, say, ECDSA from a host
// whose ed25519 key is the one on record, and fail as if the key changed.
func knownAlgorithms(db ssh.HostKeyCallback, addr string) []string {
	err := db(addr, &net.TCPAddr{IP: net.IPv4zero}, dummyHostKey())
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !containsString(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	plain := plainKeys(ke.Want)
	if len(plain) < len(ke.Want) {
		// An authority vouches for the host: its certificate first, of
		// whatever key type, then the plain keys on record.
		add(certAlgorithms...)
	}
	for _, k := range plain {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		default:
			add(t)
		}
	}
	return algos
}

// certAlgorithms are the host certificate algorithms asked for when a
// @cert-authority line covers the host.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// recordedKeys reads a known_hosts check's error: whether it is a key
// not on record (a KeyError), and the host's own keys that are (none:
// unknown; some: changed).
func recordedKeys(err error) (known []knownhosts.KnownKey, keyErr bool) {
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, false
	}
	return plainKeys(ke.Want), true
}

// plainKeys drops from known the keys of @cert-authority lines, which
// x/crypto/ssh lists among a host's known keys: an authority's key is not
// the host's, and a host whose plain key is not on record but whose
// authority is is unknown, not changed, as in OpenSSH.
func plainKeys(known []knownhosts.KnownKey) []knownhosts.KnownKey {
	var out []knownhosts.KnownKey
	files := map[string][]string{}
	for _, k := range known {
		lines, ok := files[k.Filename]
		if !ok {
			b, _ := os.ReadFile(k.Filename)
			lines = strings.Split(string(b), "\n")
			files[k.Filename] = lines
		}
		if k.Line >= 1 && k.Line <= len(lines) && strings.HasPrefix(strings.TrimSpace(lines[k.Line-1]), "@cert-authority") {
			continue
		}
		out = append(out, k)
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// callback returns the HostKeyCallback for one connection, and the host
// key algorithms to offer for addr.
func (p *hostKeyPolicy) callback(addr string) (ssh.HostKeyCallback, []string, error) {
	if p.mode == HostKeyOff {
		db, _ := p.database() // for @revoked only: unreadable, there is none
		return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			host := knownhosts.Normalize(hostname)
			var re *knownhosts.RevokedError
			if db != nil && errors.As(db(hostname, remote, key), &re) {
				// As OpenSSH: a revoked key is refused whatever the mode.
				return &HostKeyError{Host: host, Key: key, KnownHostsFile: p.knownHostsFile(), Revoked: true}
			}
			fmt.Fprintf(p.warn, "WARNING: host key checking is off: accepting %s key %s from %s without verifying it\n",
				key.Type(), ssh.FingerprintSHA256(key), host)
			return nil
		}, nil, nil
	}
	db, err := p.database()
	if err != nil {
		return nil, nil, err
	}
	algos := knownAlgorithms(db, addr)
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := db(hostname, remote, key)
		if err == nil {
			return nil
		}
		host := knownhosts.Normalize(hostname)
		herr := &HostKeyError{Host: host, Key: key, KnownHostsFile: p.knownHostsFile()}
		var re *knownhosts.RevokedError
		known, keyErr := recordedKeys(err)
		switch {
		case errors.As(err, &re):
			herr.Revoked = true
			return herr
		case len(known) > 0:
			herr.Changed, herr.Known = true, known
			return herr
		case keyErr:
			if p.mode != HostKeyAcceptNew {
				return herr
			}
			return p.accept(hostname, remote, key, herr)
		}
		if _, ok := key.(*ssh.Certificate); ok {
			// Asked for only when an authority covers the host: its
			// certificate was not that authority's, or not for this host.
			herr.Certificate = err.Error()
			return herr
		}
		return fmt.Errorf("tunnel: ssh: checking the host key of %s: %w", host, err)
	}
	return cb, algos, nil
}

// knownHostsFile is where a line for a host belongs, to tell the user.
func (p *hostKeyPolicy) knownHostsFile() string {
	if p.record != "" {
		return p.record
	}
	if len(p.files) > 0 {
		return p.files[0]
	}
	return filepath.Join(homeDir(), ".ssh", "known_hosts")
}

// accept takes an unknown key in accept-new mode: recorded, with a
// warning, unless another key for the host was recorded since this
// connection read known_hosts (by another connection or process), which
// refuses it as changed.
func (p *hostKeyPolicy) accept(hostname string, remote net.Addr, key ssh.PublicKey, herr *HostKeyError) error {
	what := fmt.Sprintf("%s key %s for %s", key.Type(), ssh.FingerprintSHA256(key), herr.Host)
	if p.record == "" {
		fmt.Fprintf(p.warn, "WARNING: accepted %s for this connection only: no known_hosts file to record it in (UserKnownHostsFile none)\n", what)
		return nil
	}
	recorded, err := p.recordKey(hostname, remote, key)
	var known *HostKeyError
	switch {
	case errors.As(err, &known):
		return known
	case err != nil:
		return fmt.Errorf("tunnel: ssh: recording the host key of %s in %s: %w", herr.Host, p.record, err)
	case recorded:
		fmt.Fprintf(p.warn, "WARNING: permanently added %s to %s\n", what, p.record)
	default:
		fmt.Fprintf(p.warn, "WARNING: accepted %s; %s is not a regular file, so it is not recorded\n", what, p.record)
	}
	return nil
}

// knownHostsMu serialises accept-new writes within the process; the
// directory lock in record serialises them with other processes.
var knownHostsMu sync.Mutex

// recordKey adds a line for the host's key to the record file,
// atomically: the new file (old content plus the line) replaces the old
// one by rename, so a concurrent reader, or a crash, never sees half a
// line. Concurrent writers (chopplan's) are serialised by a lock on the
// file's directory; under it, known_hosts is read again, and a key
// recorded meanwhile is not written twice, while another key for the host
// is a *HostKeyError (changed). The file a symbolic link names is the one
// rewritten; a file that is not a regular one (/dev/null) is left alone,
// and recorded false.
func (p *hostKeyPolicy) recordKey(hostname string, remote net.Addr, key ssh.PublicKey) (recorded bool, err error) {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	path := followLinks(p.record)
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	if d, err := os.Open(dir); err == nil {
		defer d.Close()
		for syscall.Flock(int(d.Fd()), syscall.LOCK_EX) == syscall.EINTR {
		}
		defer syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, err
	}
	// Another connection or process may have recorded a key meanwhile.
	host := knownhosts.Normalize(hostname)
	if db, err := p.database(); err == nil {
		err := db(hostname, remote, key)
		if err == nil {
			return true, nil
		}
		if known, _ := recordedKeys(err); len(known) > 0 {
			return false, &HostKeyError{Host: host, Key: key, KnownHostsFile: p.record, Changed: true, Known: known}
		}
	}
	name := host
	if p.hash {
		name = knownhosts.HashHostname(host)
	}
	line := name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		buf.WriteByte('\n')
	}
	buf.WriteString(line)
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return true, atomicfile.WriteFile(path, buf.Bytes(), mode)
}

// followLinks is the file path names once its symbolic links are
// followed, the last one's target included when it does not exist yet.
func followLinks(path string) string {
	for range 40 { // as the kernel's limit on a path's links
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path
		}
		target, err := os.Readlink(path)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(target) {
			// Relative to the link's real directory: a .. in it leaves
			// that, not the path the link was reached by.
			dir := filepath.Dir(path)
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			target = filepath.Join(dir, target)
		}
		path = target
	}
	return path
}

// homeDir is the user's home directory, or "" when unknown.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return ""
}
