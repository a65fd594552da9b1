package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/tunnel"
)

// targetFlags are the flags that say which hosts a command runs on and
// how to reach them.
type targetFlags struct {
	on           []string
	knownHosts   string
	identityFile string
	jump         string
	sshConfig    string
}

func (f *targetFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.on, "on", nil, "a target to run on (repeatable): local, sudo:USER, ssh://[user@]host[:port], docker://CONTAINER, docker-image://IMAGE, exec://COMMAND")
	cmd.Flags().StringVar(&f.knownHosts, "known-hosts", "", "host key checking for ssh targets: strict (default), accept-new, off")
	cmd.Flags().StringVar(&f.identityFile, "identity-file", "", "a private key offered to ssh targets after ssh-agent's")
	cmd.Flags().StringVar(&f.jump, "jump", "", "reach ssh targets through jump hosts (ssh -J syntax)")
	cmd.Flags().StringVar(&f.sshConfig, "ssh-config", "", "an ssh_config file instead of ~/.ssh/config (\"none\" reads none)")
}

func (f *targetFlags) defaults() (tunnel.TargetDefaults, error) {
	d := tunnel.TargetDefaults{IdentityFile: f.identityFile, ProxyJump: f.jump, SSHConfigFile: f.sshConfig}
	if f.knownHosts != "" {
		mode, err := tunnel.ParseHostKeyMode(f.knownHosts)
		if err != nil {
			return d, err
		}
		d.HostKeyMode = mode
	}
	return d, nil
}

// group opens a tunnel per target; output lines go to out.
func (f *targetFlags) group(out io.Writer) (*engine.Group, error) {
	if len(f.on) == 0 {
		return nil, fmt.Errorf("no target: give at least one --on (for example --on local)")
	}
	d, err := f.defaults()
	if err != nil {
		return nil, err
	}
	var tunnels []engine.Target
	for _, spec := range f.on {
		k, err := tunnel.ParseTarget(spec, d)
		if err != nil {
			return nil, err
		}
		tunnels = append(tunnels, tunnel.New(k, tunnel.Options{Output: out}))
	}
	return engine.NewGroup(tunnels...), nil
}

// failureStatus is the exit status for a result's failures: 2 when a
// command failed, 4 when a host was unreachable, 6 when both.
func failureStatus[T any](res *engine.GroupResult[T]) int {
	code := 0
	for _, f := range res.Failures() {
		if f.Unreachable {
			code |= exitUnreachable
		} else {
			code |= exitFailed
		}
	}
	return code
}
