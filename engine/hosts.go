package engine

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/tunnel"
)

// openTunnels makes a Tunnel for every host of the plan that the run
// needs (and the hosts they are reached through), keyed by host name.
func openTunnels(hosts []*plan.Tunnel, newKind func(*plan.Tunnel) (tunnel.Kind, error), opts func(host string) tunnel.Options) (map[string]*tunnel.Tunnel, error) {
	out := map[string]*tunnel.Tunnel{}
	var open func(t *plan.Tunnel, depth int) (*tunnel.Tunnel, error)
	open = func(t *plan.Tunnel, depth int) (*tunnel.Tunnel, error) {
		if tun, ok := out[t.Name]; ok {
			return tun, nil
		}
		if depth > 16 {
			return nil, fmt.Errorf("%s: via chain too long", t.Addr)
		}
		var k tunnel.Kind
		var err error
		if newKind != nil {
			k, err = newKind(t)
		}
		if k == nil && err == nil {
			k, err = kindOf(t)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Addr, err)
		}
		if t.Via != nil {
			parent, err := open(t.Via, depth+1)
			if err != nil {
				return nil, err
			}
			k = tunnel.Via(parent, k)
		}
		tun := tunnel.New(k, opts(t.Name))
		out[t.Name] = tun
		return tun, nil
	}
	for _, h := range hosts {
		if _, err := open(h, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kindOf turns a plan's tunnel block into the tunnel kind it describes.
// The argument names are the plan language's (engine/schemas.go).
func kindOf(t *plan.Tunnel) (tunnel.Kind, error) {
	args, _ := t.Args.UnmarkDeep()
	var err error
	s := func(name string) string { v, _ := agent.AttrString(args, name); return v }
	b := func(name string) bool { v, _ := agent.AttrBool(args, name); return v }
	switch t.Kind {
	case "local":
		return tunnel.Local(t.Name), nil
	case "sudo":
		return tunnel.Sudo(t.Name, s("user")), nil
	case "exec":
		var argv []string
		if err := gocty.FromCtyValue(args.GetAttr("command"), &argv); err != nil {
			return nil, fmt.Errorf("exec command: %w", err)
		}
		return tunnel.Exec(t.Name, argv), nil
	case "docker":
		return tunnel.DockerContainer(t.Name, s("container"), nil), nil
	case "docker-image":
		return tunnel.DockerImage(t.Name, s("image"), &tunnel.DockerOptions{Keep: b("keep")}), nil
	case "ssh":
		c := tunnel.SSHConfig{
			Name: t.Name, Host: s("host"), User: s("user"), ProxyJump: s("jump"),
			Sudo: b("sudo"), SudoUser: s("sudo_user"), SudoPassword: s("sudo_password"),
			Passphrase: s("passphrase"), ConfigFile: s("ssh_config"),
		}
		if f := s("identity_file"); f != "" {
			c.IdentityFiles = []string{f}
		}
		if f := s("known_hosts"); f != "" {
			c.KnownHostsFiles = []string{f}
		}
		if m := s("host_key_checking"); m != "" {
			if c.HostKeyMode, err = tunnel.ParseHostKeyMode(m); err != nil {
				return nil, err
			}
		}
		if p := args.GetAttr("port"); !p.IsNull() {
			var port int
			if err := gocty.FromCtyValue(p, &port); err != nil {
				return nil, fmt.Errorf("port: %w", err)
			}
			c.Port = port
		}
		if ct := args.GetAttr("connect_timeout"); !ct.IsNull() {
			if c.ConnectTimeout, err = durationOf(ct); err != nil {
				return nil, fmt.Errorf("connect_timeout: %w", err)
			}
		}
		return tunnel.SSH(c)
	}
	return nil, fmt.Errorf("unknown tunnel kind %q", t.Kind)
}

// durationOf reads "30s" or a number of seconds.
func durationOf(v cty.Value) (time.Duration, error) {
	if v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		return time.Duration(f * float64(time.Second)), nil
	}
	if v.Type() != cty.String {
		return 0, fmt.Errorf("want a duration such as \"30s\"")
	}
	return time.ParseDuration(v.AsString())
}

// Tunnels opens a Tunnel for every host of the plan (chopplan facts on a
// plan), in plan order. The caller closes them.
func Tunnels(cfg *plan.Config, opts tunnel.Options) ([]*tunnel.Tunnel, error) {
	byName, err := openTunnels(cfg.Tunnels, nil, func(string) tunnel.Options { return opts })
	if err != nil {
		return nil, err
	}
	out := make([]*tunnel.Tunnel, 0, len(cfg.Tunnels))
	for _, t := range cfg.Tunnels {
		out = append(out, byName[t.Name])
	}
	return out, nil
}
