package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// KeyType names an SSH key algorithm as OpenSSH's file names do.
type KeyType string

// The key types OpenSSH users have. RSA keys are 2048 bits: big enough for
// every server, and generation stays well under a second.
const (
	ED25519 KeyType = "ed25519"
	ECDSA   KeyType = "ecdsa"
	RSA     KeyType = "rsa"
)

// A Key is a freshly generated SSH key pair, written in OpenSSH's formats
// so that both x/crypto/ssh and OpenSSH's own tools can read it.
type Key struct {
	Type KeyType
	// Path is the private key file (mode 0600); Path+".pub" holds the
	// public key, which OpenSSH's ssh reads to offer an encrypted key
	// before asking for its passphrase.
	Path string
	// Passphrase is the one the file is encrypted with; empty when the
	// file is not encrypted.
	Passphrase string
	// Signer signs with the key without needing the passphrase.
	Signer ssh.Signer
}

// PublicKey returns the public half of k.
func (k *Key) PublicKey() ssh.PublicKey { return k.Signer.PublicKey() }

// AuthorizedKey returns k's line for an authorized_keys file, with its
// trailing newline.
func (k *Key) AuthorizedKey() string { return string(ssh.MarshalAuthorizedKey(k.PublicKey())) }

// NewKey generates a key pair of type typ in a directory of the test's,
// unencrypted on disk.
func NewKey(t testing.TB, typ KeyType) *Key {
	t.Helper()
	return newKey(t, t.TempDir(), "id_"+string(typ), typ, "")
}

// NewEncryptedKey generates a key pair of type typ whose file is encrypted
// with passphrase (OpenSSH's bcrypt-pbkdf format, as ssh-keygen writes).
func NewEncryptedKey(t testing.TB, typ KeyType, passphrase string) *Key {
	t.Helper()
	if passphrase == "" {
		t.Fatal("testenv: NewEncryptedKey needs a passphrase")
	}
	return newKey(t, t.TempDir(), "id_"+string(typ)+"_encrypted", typ, passphrase)
}

func newKey(t testing.TB, dir, name string, typ KeyType, passphrase string) *Key {
	t.Helper()
	priv, err := generate(typ)
	if err != nil {
		t.Fatalf("testenv: generate %s key: %v", typ, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("testenv: %s signer: %v", typ, err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "chopplan-testenv")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "chopplan-testenv", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("testenv: marshal %s key: %v", typ, err)
	}
	k := &Key{Type: typ, Path: filepath.Join(dir, name), Passphrase: passphrase, Signer: signer}
	if err := os.WriteFile(k.Path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.WriteFile(k.Path+".pub", []byte(k.AuthorizedKey()), 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return k
}

func generate(typ KeyType) (crypto.PrivateKey, error) {
	switch typ {
	case ED25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case ECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown key type %q", typ)
}
