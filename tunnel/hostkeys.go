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
}

// Line is the known_hosts line that would trust the offered key.
func (e *HostKeyError) Line() string { return knownhosts.Line([]string{e.Host}, e.Key) }

func (e *HostKeyError) Error() string {
	fp := ssh.FingerprintSHA256(e.Key)
	switch {
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
	// files are read in order; the first is where accept-new writes.
	files []string
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
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		default:
			add(t)
		}
	}
	return algos
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
		return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			fmt.Fprintf(p.warn, "WARNING: host key checking is off: accepting %s key %s from %s without verifying it\n",
				key.Type(), ssh.FingerprintSHA256(key), knownhosts.Normalize(hostname))
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
		herr := &HostKeyError{Host: host, Key: key, KnownHostsFile: p.writeFile()}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			herr.Revoked = true
			return herr
		case errors.As(err, &ke) && len(ke.Want) > 0:
			herr.Changed, herr.Known = true, ke.Want
			return herr
		case errors.As(err, &ke):
			if p.mode != HostKeyAcceptNew {
				return herr
			}
			if werr := p.record(host, key); werr != nil {
				return fmt.Errorf("tunnel: ssh: recording the host key of %s in %s: %w", host, herr.KnownHostsFile, werr)
			}
			fmt.Fprintf(p.warn, "WARNING: permanently added %s key %s for %s to %s\n",
				key.Type(), ssh.FingerprintSHA256(key), host, herr.KnownHostsFile)
			return nil
		}
		return fmt.Errorf("tunnel: ssh: checking the host key of %s: %w", host, err)
	}
	return cb, algos, nil
}

func (p *hostKeyPolicy) writeFile() string {
	if len(p.files) == 0 {
		return filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	return p.files[0]
}

// knownHostsMu serialises accept-new writes within the process; the
// directory lock in record serialises them with other processes.
var knownHostsMu sync.Mutex

// record adds a line for host's key to the known_hosts file, atomically:
// the new file (old content plus the line) replaces the old one by rename,
// so a concurrent reader, or a crash, never sees half a line. Concurrent
// writers are serialised by a lock on the file's directory.
func (p *hostKeyPolicy) record(host string, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	path := p.writeFile()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		defer d.Close()
		for syscall.Flock(int(d.Fd()), syscall.LOCK_EX) == syscall.EINTR {
		}
		defer syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	// Another process may have recorded the key while we waited.
	if db, err := p.database(); err == nil && db(host, &net.TCPAddr{IP: net.IPv4zero}, key) == nil {
		return nil
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
	return atomicfile.WriteFile(path, buf.Bytes(), mode)
}

// homeDir is the user's home directory, or "" when unknown.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return ""
}
