package tunnel

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	sshagent "golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// AuthError is a host that refused every key offered: nothing ran on it.
type AuthError struct {
	// Host is the address that refused, User the account asked for.
	Host, User string
	// Offered describes each key source tried, e.g. "ssh-agent (2 keys)"
	// or "~/.ssh/id_ed25519 (SHA256:…)".
	Offered []string
	// Err is the SSH library's own account of the failure.
	Err error
}

func (e *AuthError) Error() string {
	if len(e.Offered) == 0 {
		return fmt.Sprintf("tunnel: ssh: authentication as %s on %s failed: no key to offer (no ssh-agent answers at SSH_AUTH_SOCK and no identity file exists). "+
			"Load a key into ssh-agent, or name one with identity_file (IdentityFile in ~/.ssh/config)", e.User, e.Host)
	}
	return fmt.Sprintf("tunnel: ssh: authentication as %s on %s failed (offered %s). "+
		"Add one of these public keys to ~%s/.ssh/authorized_keys on the host, or name the right key with identity_file (IdentityFile in ~/.ssh/config) or load it into ssh-agent",
		e.User, e.Host, strings.Join(e.Offered, ", "), e.User)
}

func (e *AuthError) Unwrap() error { return e.Err }

// isAuthFailure reports whether err from a handshake means the server
// refused every method. x/crypto/ssh has no typed error for it.
func isAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ssh: unable to authenticate")
}

// sshAuth holds the keys one connection offers, in OpenSSH's order: the
// agent's keys, then identity files.
type sshAuth struct {
	signers []ssh.Signer
	offered []string
	closers []io.Closer
}

// close releases the agent connection once the handshake is over.
func (a *sshAuth) close() {
	for _, c := range a.closers {
		c.Close()
	}
}

// agentTimeout bounds connecting to an ssh-agent and listing its keys.
const agentTimeout = 5 * time.Second

// methods is the auth method list for ssh.ClientConfig.
func (a *sshAuth) methods() []ssh.AuthMethod {
	if len(a.signers) == 0 {
		return nil
	}
	return []ssh.AuthMethod{ssh.PublicKeys(a.signers...)}
}

// loadAuth gathers the keys for one host. The agent at agentSocket is
// asked, when there is one (an agent that does not answer is skipped, as
// OpenSSH does); with identitiesOnly its keys are limited to those of the
// identity files, as OpenSSH does, so a loaded agent cannot exhaust the
// server's MaxAuthTries with keys it will refuse.
//
// An identity file named in ssh_config (not explicit) that cannot be
// used, a key type x/crypto/ssh does not handle (FIDO's *_sk) or an
// encrypted key with no passphrase to open it, is skipped with a warning
// to warn, as OpenSSH does, so that the agent's keys still get their
// chance; one named in the plan is an error.
func loadAuth(identityFiles []string, explicit bool, identitiesOnly bool, agentSocket, passphrase string, warn io.Writer) (*sshAuth, error) {
	a := &sshAuth{}
	var fileKeys []*keyFile
	var skipped []*keyFile // unusable files whose .pub still names an agent's key for IdentitiesOnly
	for _, path := range identityFiles {
		k, err := loadKeyFile(path, passphrase)
		switch {
		case err == nil:
			fileKeys = append(fileKeys, k)
		case explicit:
			return nil, err
		default:
			// A public key, in the file itself (IdentityFile key.pub, as
			// agents that keep the private key elsewhere have it) or
			// beside it, names the agent's key to offer, as in OpenSSH.
			pub := publicKey(path)
			if pub == nil {
				if !os.IsNotExist(errors.Unwrap(err)) { // else a default identity the user does not have
					fmt.Fprintf(warn, "chopplan: warning: skipping an identity file: %v\n", err)
				}
				pub = publicKey(path + ".pub")
			}
			if pub != nil {
				skipped = append(skipped, &keyFile{path: path, pub: pub})
			}
		}
	}
	if agentSocket != "" {
		if conn, err := net.DialTimeout("unix", agentSocket, agentTimeout); err == nil {
			// An agent that does not answer is skipped, not waited for:
			// the deadline covers listing its keys, and is lifted for the
			// signing (a hardware key may wait for a touch), which the
			// connect's context bounds by closing the agent's connection
			// (dialHop).
			conn.SetDeadline(time.Now().Add(agentTimeout))
			signers, err := sshagent.NewClient(conn).Signers()
			conn.SetDeadline(time.Time{})
			if err != nil {
				conn.Close()
			} else {
				a.closers = append(a.closers, conn)
				n := 0
				for _, s := range signers {
					if identitiesOnly && !hasKey(fileKeys, s.PublicKey()) && !hasKey(skipped, s.PublicKey()) {
						continue
					}
					a.signers = append(a.signers, s)
					n++
				}
				if n > 0 {
					a.offered = append(a.offered, fmt.Sprintf("ssh-agent (%d keys)", n))
				}
			}
		}
	}
	for _, k := range fileKeys {
		a.signers = append(a.signers, k.signer)
		a.offered = append(a.offered, fmt.Sprintf("%s (%s %s)", k.path, k.pub.Type(), ssh.FingerprintSHA256(k.pub)))
	}
	return a, nil
}

// publicKey is the public key the file path holds, or nil.
func publicKey(path string) ssh.PublicKey {
	if b, err := os.ReadFile(path); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			return pub
		}
	}
	return nil
}

func hasKey(keys []*keyFile, pub ssh.PublicKey) bool {
	for _, k := range keys {
		if string(k.pub.Marshal()) == string(pub.Marshal()) {
			return true
		}
	}
	return false
}

// keyFile is one identity file, possibly still encrypted.
type keyFile struct {
	path   string
	pub    ssh.PublicKey
	signer ssh.Signer
}

// loadKeyFile reads a private key. An encrypted key becomes a signer that
// decrypts it on first use: x/crypto/ssh asks the server whether it would
// accept a public key before signing, so, as with OpenSSH, the passphrase
// is needed only for a key the server wants.
func loadKeyFile(path, passphrase string) (*keyFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tunnel: ssh: identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err == nil {
		return &keyFile{path: path, pub: s.PublicKey(), signer: s}, nil
	}
	var pm *ssh.PassphraseMissingError
	if !errors.As(err, &pm) {
		return nil, fmt.Errorf("tunnel: ssh: identity file %s: %w", path, err)
	}
	pub := pm.PublicKey
	if pub == nil { // older formats do not carry the public key in the clear
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
		}
	}
	lz := &lazySigner{path: path, data: data, passphrase: passphrase, pub: pub}
	if pub == nil {
		if _, err := lz.load(); err != nil {
			return nil, err
		}
		pub = lz.signer.PublicKey()
	}
	return &keyFile{path: path, pub: pub, signer: lz}, nil
}

// lazySigner is an encrypted key, decrypted when first asked to sign.
type lazySigner struct {
	path, passphrase string
	data             []byte
	pub              ssh.PublicKey

	once   sync.Once
	signer ssh.Signer
	err    error
}

var _ ssh.MultiAlgorithmSigner = (*lazySigner)(nil)

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lazySigner) Algorithms() []string {
	if l.pub.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{l.pub.Type()}
}

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	if as, ok := s.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) load() (ssh.Signer, error) {
	l.once.Do(func() {
		pass := l.passphrase
		if pass == "" {
			var err error
			if pass, err = askPassphrase(l.path); err != nil {
				l.err = err
				return
			}
		}
		l.signer, l.err = ssh.ParsePrivateKeyWithPassphrase(l.data, []byte(pass))
		if errors.Is(l.err, x509.IncorrectPasswordError) {
			l.err = fmt.Errorf("tunnel: ssh: wrong passphrase for %s", l.path)
		} else if l.err != nil {
			l.err = fmt.Errorf("tunnel: ssh: identity file %s: %w", l.path, l.err)
		}
	})
	return l.signer, l.err
}

// passphrases remembers passphrases typed on the terminal for the life of
// the process, so a key shared by many hosts is asked for once.
var (
	promptMu    sync.Mutex
	passphrases = map[string]string{}
)

// askPassphrase asks for a key's passphrase on the terminal, and only
// when stdin is one: a run under CI or cron never waits for input.
func askPassphrase(path string) (string, error) {
	promptMu.Lock()
	defer promptMu.Unlock()
	if p, ok := passphrases[path]; ok {
		return p, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("tunnel: ssh: identity file %s is encrypted and no passphrase was given: set the tunnel's passphrase (a sensitive variable), load the key into ssh-agent, or run from a terminal to be asked", path)
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("tunnel: ssh: asking for the passphrase of %s: %w", path, err)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter passphrase for key '%s': ", path)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("tunnel: ssh: reading the passphrase of %s: %w", path, err)
	}
	passphrases[path] = string(b)
	return string(b), nil
}
