package tunnel_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestSSHWrongKey(t *testing.T) {
	t.Parallel()
	s := testenv.StartSSHD(t, testenv.SSHDOptions{})
	wrong := testenv.NewKey(t, testenv.ED25519)
	cfg := sshConfigFor(s)
	cfg.IdentityFiles = []string{wrong.Path}
	err := ping(t, newSSH(t, cfg, nil))
	var ae *tunnel.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("wrong key: err = %v", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), wrong.Path) || !strings.Contains(err.Error(), "authorized_keys") {
		t.Fatalf("message does not name the key offered and what to fix: %v", err)
	}
}

func TestSSHAgentKeys(t *testing.T) {
	t.Parallel()
	rsa := testenv.NewKey(t, testenv.RSA)
	s := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{rsa}})
	ag := testenv.StartSSHAgent(t, testenv.NewKey(t, testenv.ECDSA), rsa)
	cfg := sshConfigFor(s)
	cfg.NoAgent = false
	cfg.IdentityAgent = ag.Socket
	cfg.IdentityFiles = nil
	cfg.ConfigFile = writeConfig(t, "Host *\n  IdentityFile "+t.TempDir()+"/none\n")
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatalf("login with an ssh-agent RSA key: %v", err)
	}
}

func TestSSHNoAgentKeyFile(t *testing.T) {
	t.Parallel()
	ecdsa := testenv.NewKey(t, testenv.ECDSA)
	s := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{ecdsa}})
	cfg := sshConfigFor(s)
	cfg.NoAgent = false
	cfg.IdentityAgent = "none"
	cfg.IdentityFiles = []string{ecdsa.Path}
	if err := ping(t, newSSH(t, cfg, nil)); err != nil {
		t.Fatalf("login with a key file and no ssh-agent: %v", err)
	}
	// No agent and no usable key: the error says so.
	cfg.IdentityFiles = nil
	cfg.ConfigFile = writeConfig(t, "Host *\n  IdentityFile "+t.TempDir()+"/none\n")
	err := ping(t, newSSH(t, cfg, nil))
	var ae *tunnel.AuthError
	if errors.As(err, &ae) && len(ae.Offered) == 0 {
		t.Log(err)
		return
	}
	// A named identity file that is missing is reported as such.
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("no keys at all: err = %v", err)
	}
	t.Log(err)
}

func TestSSHEncryptedKey(t *testing.T) {
	t.Parallel()
	for _, typ := range []testenv.KeyType{testenv.ED25519, testenv.RSA} {
		key := testenv.NewEncryptedKey(t, typ, "correct horse")
		s := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{key}})
		cfg := sshConfigFor(s)
		cfg.Passphrase = "correct horse"
		if err := ping(t, newSSH(t, cfg, nil)); err != nil {
			t.Fatalf("%s key with its passphrase: %v", typ, err)
		}
		cfg.Passphrase = "wrong"
		if err := ping(t, newSSH(t, cfg, nil)); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
			t.Fatalf("%s key with a wrong passphrase: %v", typ, err)
		}
		// go test's stdin is not a terminal: no prompt, a clear error.
		cfg.Passphrase = ""
		if err := ping(t, newSSH(t, cfg, nil)); err == nil || !strings.Contains(err.Error(), "is encrypted and no passphrase was given") {
			t.Fatalf("%s key without a passphrase: %v", typ, err)
		}
	}
}

// An identity file named in ssh_config that cannot be used (here, not a
// key at all; a FIDO key, say) is skipped with a warning, and the agent's
// key still logs in, as with OpenSSH.
func TestSSHUnusableConfigIdentitySkipped(t *testing.T) {
	t.Parallel()
	key := testenv.NewKey(t, testenv.ED25519)
	s := testenv.StartSSHD(t, testenv.SSHDOptions{ClientKeys: []*testenv.Key{key}})
	ag := testenv.StartSSHAgent(t, key)
	bad := filepath.Join(t.TempDir(), "id_unusable")
	if err := os.WriteFile(bad, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sshConfigFor(s)
	cfg.NoAgent = false
	cfg.IdentityAgent = ag.Socket
	cfg.IdentityFiles = nil
	cfg.ConfigFile = writeConfig(t, "Host *\n  IdentityFile "+bad+"\n")
	out := &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out)); err != nil {
		t.Fatalf("login with the agent's key beside an unusable identity file: %v", err)
	}
	if !strings.Contains(out.String(), "skipping an identity file") || !strings.Contains(out.String(), bad) {
		t.Fatalf("no warning about the unusable identity file: %q", out.String())
	}
	// With IdentitiesOnly, the agent's key its .pub names is offered, as
	// OpenSSH does for a key it cannot read itself (a FIDO key's); the
	// unusable file is still reported.
	if err := os.WriteFile(bad+".pub", []byte(key.AuthorizedKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.ConfigFile = writeConfig(t, "Host *\n  IdentitiesOnly yes\n  IdentityFile "+bad+"\n")
	out = &tunneltest.SyncBuffer{}
	if err := ping(t, newSSH(t, cfg, out)); err != nil {
		t.Fatalf("IdentitiesOnly with the agent's key named by an unusable file's .pub: %v", err)
	}
	if !strings.Contains(out.String(), "skipping an identity file") {
		t.Fatalf("no warning about the unusable identity file beside its .pub: %q", out.String())
	}
	// The .pub named itself (an agent that keeps the private key), or
	// beside a private key that is not there.
	for _, name := range []string{bad + ".pub", filepath.Join(t.TempDir(), "id_elsewhere")} {
		if !strings.HasSuffix(name, ".pub") {
			os.WriteFile(name+".pub", []byte(key.AuthorizedKey()), 0o644)
		}
		cfg.ConfigFile = writeConfig(t, "Host *\n  IdentitiesOnly yes\n  IdentityFile "+name+"\n")
		if err := ping(t, newSSH(t, cfg, nil)); err != nil {
			t.Fatalf("IdentitiesOnly with IdentityFile %s: %v", name, err)
		}
	}
}
