package tunnel_test

import (
	"testing"

	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestExecShContract(t *testing.T) {
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.Exec("sh", []string{"sh"}), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: t.TempDir(),
	})
}
