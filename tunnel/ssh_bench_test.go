package tunnel_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
)

// The SSH benchmarks follow the workloads of the performance anchors
// (W1–W4) against a real sshd on loopback, and measure OpenSSH's own
// client on the same servers in the same run, so the ratios hold on a
// noisy machine. chopplan figures are library-level: one process that
// connects, calls and closes per iteration (its start-up is not counted;
// OpenSSH's is, as a new ssh process is its only way to connect).

// benchHost is a server and an ssh_config that reaches it as "bench".
type benchHost struct {
	sshd   *testenv.SSHD
	config string
	dir    string // writable by the login user
}

func newBenchHosts(b *testing.B, n int) []*benchHost {
	b.Helper()
	first := testenv.StartSSHD(b, testenv.SSHDOptions{})
	hosts := []*benchHost{{sshd: first}}
	for len(hosts) < n {
		hosts = append(hosts, &benchHost{sshd: testenv.StartSSHD(b, testenv.SSHDOptions{ClientKeys: first.ClientKeys()})})
	}
	for i, h := range hosts {
		h.config = testenv.WriteSSHConfig(b, testenv.SSHConfigHost{Alias: "bench", SSHD: h.sshd, Options: []string{"BatchMode yes"}})
		h.dir = testenv.UserDir(b, h.sshd.User())
		_ = i
	}
	// Warm the agent cache on the target and the compressed agent here,
	// as a second run of chopplan would find them.
	for _, h := range hosts {
		tun := h.tunnel(b)
		if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
			b.Fatal(err)
		}
		tun.Close()
	}
	return hosts
}

func (h *benchHost) tunnel(b *testing.B) *tunnel.Tunnel {
	k, err := tunnel.SSH(tunnel.SSHConfig{Host: "bench", ConfigFile: h.config, NoAgent: true})
	if err != nil {
		b.Fatal(err)
	}
	return tunnel.New(k, tunnel.Options{Output: discard{}})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// openssh runs OpenSSH's ssh against h with extra arguments.
func (h *benchHost) openssh(b *testing.B, stdin string, args ...string) {
	argv := append([]string{"-F", h.config}, args...)
	cmd := exec.Command("ssh", argv...)
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ssh %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func trueCall(b *testing.B, tun *tunnel.Tunnel) {
	if _, err := tun.Call(context.Background(), "exec", map[string]any{"command": []string{"true"}}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSSH is W1–W4 for chopplan and OpenSSH side by side.
func BenchmarkSSH(b *testing.B) {
	hosts := newBenchHosts(b, 10)
	h := hosts[0]

	b.Run("W4/chopplan-connect-call", func(b *testing.B) {
		for b.Loop() {
			tun := h.tunnel(b)
			trueCall(b, tun)
			tun.Close()
		}
	})
	b.Run("W4/openssh-curve25519-true", func(b *testing.B) {
		for b.Loop() {
			h.openssh(b, "", "-oKexAlgorithms=curve25519-sha256", "bench", "true")
		}
	})

	b.Run("W1/chopplan-50-calls", func(b *testing.B) {
		for b.Loop() {
			tun := h.tunnel(b)
			for range 50 {
				trueCall(b, tun)
			}
			tun.Close()
		}
	})
	b.Run("W1/chopplan-call-warm", func(b *testing.B) {
		tun := h.tunnel(b)
		defer tun.Close()
		trueCall(b, tun)
		b.ResetTimer()
		for b.Loop() {
			trueCall(b, tun)
		}
	})
	b.Run("W1/openssh-controlmaster-50", func(b *testing.B) {
		cp := filepath.Join(h.dir+"-cp", "%C")
		os.MkdirAll(filepath.Dir(cp), 0o700)
		mux := []string{"-oKexAlgorithms=curve25519-sha256", "-oControlMaster=auto", "-oControlPath=" + cp, "-oControlPersist=60"}
		h.openssh(b, "", append(mux, "-fN", "bench")...)
		defer h.openssh(b, "", append(mux, "-Oexit", "bench")...)
		b.ResetTimer()
		for b.Loop() {
			for range 50 {
				h.openssh(b, "", append(mux, "bench", "true")...)
			}
		}
	})

	b.Run("W2/chopplan-10-hosts-20-calls", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, h := range hosts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tun := h.tunnel(b)
					for range 20 {
						trueCall(b, tun)
					}
					tun.Close()
				}()
			}
			wg.Wait()
		}
	})

	payload := filepath.Join(b.TempDir(), "payload-100M.bin")
	data := make([]byte, 100<<20)
	rand.Read(data)
	if err := os.WriteFile(payload, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("W3/chopplan-put-100MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		i := 0
		for b.Loop() {
			i++
			tun := h.tunnel(b)
			res, err := tun.Put(context.Background(), payload, fmt.Sprintf("%s/w3-%d.bin", h.dir, i), nil)
			if err != nil || !res.Changed {
				b.Fatalf("put: %+v, %v", res, err)
			}
			tun.Close()
		}
	})
	b.Run("W3/chopplan-put-unchanged", func(b *testing.B) {
		dest := h.dir + "/w3-1.bin"
		for b.Loop() {
			tun := h.tunnel(b)
			res, err := tun.Put(context.Background(), payload, dest, nil)
			if err != nil || res.Changed {
				b.Fatalf("unchanged put: %+v, %v", res, err)
			}
			tun.Close()
		}
	})
	b.Run("W3/openssh-cat-aes128gcm", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h.openssh(b, payload, "-oKexAlgorithms=curve25519-sha256", "-c", "aes128-gcm@openssh.com", "bench", "cat > "+h.dir+"/w3-cat.bin")
		}
	})
}
