package tunnel

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
)

// SSHConfig describes an SSH target. What it leaves empty comes from
// ssh_config (~/.ssh/config, then /etc/ssh/ssh_config) for the Host
// alias, and then from OpenSSH's defaults, so a host that `ssh HOST`
// reaches is reachable here by the same name.
type SSHConfig struct {
	// Name is the host name of results and output; Host when empty.
	Name string
	// Host is an ssh_config alias or an address. Required.
	Host string
	// User is the account to log in as (ssh_config User, else the local user).
	User string
	// Port is the TCP port (ssh_config Port, else 22).
	Port int
	// IdentityFiles are private keys to offer after the ssh-agent's
	// (ssh_config IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
	IdentityFiles []string
	// Passphrase decrypts encrypted identity files. It is a secret: pass
	// it from a sensitive variable. When empty, an encrypted key is asked
	// for on the terminal, and only when stdin is one.
	Passphrase string
	// NoAgent ignores SSH_AUTH_SOCK.
	NoAgent bool
	// IdentityAgent is the ssh-agent socket (ssh_config IdentityAgent,
	// else $SSH_AUTH_SOCK; "none" uses no agent).
	IdentityAgent string
	// HostKeyMode is how unknown host keys are treated (ssh_config
	// StrictHostKeyChecking, else strict).
	HostKeyMode HostKeyMode
	// KnownHostsFiles are read in order and accept-new writes to the first
	// (ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts; then
	// GlobalKnownHostsFile, else /etc/ssh/ssh_known_hosts).
	KnownHostsFiles []string
	// ProxyJump is a comma-separated list of jump hosts, [user@]host[:port]
	// or ssh:// URLs, each resolved through ssh_config in turn
	// (ssh_config ProxyJump; "none" turns that off).
	ProxyJump string
	// ConnectTimeout bounds the TCP connection and the SSH handshake of
	// each hop (ssh_config ConnectTimeout, else the caller's context).
	ConnectTimeout time.Duration
	// KeepAliveInterval is how often an idle connection is probed
	// (ssh_config ServerAliveInterval, else 15s; negative turns probes off).
	KeepAliveInterval time.Duration
	// KeepAliveCountMax is how many unanswered probes mean the host is
	// gone (ssh_config ServerAliveCountMax, else 3).
	KeepAliveCountMax int
	// ConfigFile is the ssh_config to read instead of ~/.ssh/config and
	// /etc/ssh/ssh_config; "none" reads none.
	ConfigFile string
	// Sudo runs the agent as SudoUser (root when empty) through sudo.
	Sudo     bool
	SudoUser string
	// SudoPassword is sent to `sudo -S` on stdin when sudo asks for one;
	// never on a command line or in the environment. A secret.
	SudoPassword string
}

// defaultKeepAlive is chopplan's ServerAliveInterval when ssh_config sets
// none. OpenSSH's default is off, but a run over hundreds of hosts must
// notice one that vanished rather than wait on it for ever.
const defaultKeepAlive = 15 * time.Second

// sshHop is one host of a connection, with everything resolved.
type sshHop struct {
	alias          string // as the user named it
	host           string // HostName
	port           int
	user           string
	identityFiles  []string
	explicitKeys   bool // identity files named in the plan: missing ones are errors
	identitiesOnly bool
	agentSocket    string // "" for none
	passphrase     string
	hostKeys       hostKeyPolicy
	connectTimeout time.Duration
	keepAlive      time.Duration
	keepAliveMax   int
}

// addr is host:port for dialling and for known_hosts.
func (h *sshHop) addr() string { return net.JoinHostPort(h.host, strconv.Itoa(h.port)) }

// sshRoute is the hops to a target: jump hosts in order, then the target.
type sshRoute []*sshHop

// configFiles are the ssh_config files in the order OpenSSH reads them.
type configFiles []*sshconfig.Config

// get returns the first value of key for alias: OpenSSH keeps the first
// value it finds, user file before system file.
func (c configFiles) get(alias, key string) string {
	for _, f := range c {
		if v, err := f.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

// getAll returns every value of key for alias (IdentityFile may repeat).
func (c configFiles) getAll(alias, key string) []string {
	var out []string
	for _, f := range c {
		if v, err := f.GetAll(alias, key); err == nil {
			out = append(out, v...)
		}
	}
	return out
}

var parsedConfigs sync.Map // the files' paths, joined by NULs -> configFiles

// loadConfigFiles parses the ssh_config files once per process: the
// user's and the system's as one text, the user's first (the first value
// found wins), and the Match final blocks of both after the rest of both,
// as OpenSSH's second pass would apply them (readConfigFile).
func loadConfigFiles(custom string) (configFiles, error) {
	var paths []string
	switch custom {
	case "none":
		return nil, nil
	case "":
		paths = []string{filepath.Join(homeDir(), ".ssh", "config"), "/etc/ssh/ssh_config"}
	default:
		paths = []string{custom}
	}
	key := strings.Join(paths, "\x00")
	if v, ok := parsedConfigs.Load(key); ok {
		return v.(configFiles), nil
	}
	files, err := parseConfigPaths(paths, custom != "")
	if err != nil {
		return nil, err
	}
	parsedConfigs.Store(key, files)
	return files, nil
}

// parseConfigPaths reads and parses the files as one (loadConfigFiles);
// a missing one is skipped, but for the first when required.
func parseConfigPaths(paths []string, required bool) (configFiles, error) {
	var main, finals bytes.Buffer
	for i, p := range paths {
		m, f, err := readConfigFile(p, p != "/etc/ssh/ssh_config")
		if err != nil {
			if os.IsNotExist(err) && (!required || i > 0) {
				continue
			}
			return nil, fmt.Errorf("tunnel: ssh: reading %s: %w", p, err)
		}
		main.Write(m)
		finals.Write(f)
	}
	if main.Len()+finals.Len() == 0 {
		return nil, nil
	}
	main.Write(finals.Bytes())
	cfg, err := sshconfig.Decode(&main)
	if err != nil {
		// Which file: each alone, its position in its own text (with its
		// includes in place).
		for _, p := range paths {
			m, f, rerr := readConfigFile(p, p != "/etc/ssh/ssh_config")
			if rerr != nil {
				continue
			}
			if _, perr := sshconfig.Decode(bytes.NewReader(append(m, f...))); perr != nil {
				return nil, fmt.Errorf("tunnel: ssh: parsing %s (its Include lines in place): %w", p, perr)
			}
		}
		return nil, fmt.Errorf("tunnel: ssh: parsing %s: %w", strings.Join(paths, " and "), err)
	}
	return configFiles{cfg}, nil
}

// resolve works out every hop to the target of c.
func (c *SSHConfig) resolve() (sshRoute, error) {
	files, err := loadConfigFiles(c.ConfigFile)
	if err != nil {
		return nil, err
	}
	target, err := c.resolveHop(files, c.Host, c.User, c.Port, true)
	if err != nil {
		return nil, err
	}
	jump := c.ProxyJump
	if jump == "" {
		jump = files.get(c.Host, "ProxyJump")
	}
	var route sshRoute
	if jump != "" && !strings.EqualFold(jump, "none") {
		for _, spec := range strings.Split(jump, ",") {
			user, host, port, err := parseHostSpec(strings.TrimSpace(spec))
			if err != nil {
				return nil, fmt.Errorf("tunnel: ssh: ProxyJump %q: %w", jump, err)
			}
			hop, err := c.resolveHop(files, host, user, port, false)
			if err != nil {
				return nil, err
			}
			route = append(route, hop)
		}
	}
	return append(route, target), nil
}

// resolveHop resolves one host through ssh_config. The target takes the
// SSHConfig's explicit settings; jump hosts take only its credentials and
// host key mode, as `ssh -J` does.
func (c *SSHConfig) resolveHop(files configFiles, alias, user string, port int, target bool) (*sshHop, error) {
	h := &sshHop{alias: alias, user: user, port: port, passphrase: c.Passphrase}
	get := func(key string) string { return files.get(alias, key) }
	h.agentSocket = c.IdentityAgent
	if h.agentSocket == "" {
		h.agentSocket = get("IdentityAgent")
	}
	switch h.agentSocket {
	case "", "SSH_AUTH_SOCK":
		h.agentSocket = os.Getenv("SSH_AUTH_SOCK")
	case "none":
		h.agentSocket = ""
	default:
		if strings.HasPrefix(h.agentSocket, "$") {
			h.agentSocket = os.Getenv(strings.TrimPrefix(h.agentSocket, "$"))
		}
		h.agentSocket = expandTokens(h.agentSocket, alias, "", 0)
	}
	if c.NoAgent {
		h.agentSocket = ""
	}
	h.host = alias
	if v := get("HostName"); v != "" {
		h.host = expandTokens(v, alias, "", 0)
	}
	if h.port == 0 {
		if v := get("Port"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p <= 0 || p > 65535 {
				return nil, fmt.Errorf("tunnel: ssh: bad Port %q for %s in ssh_config", v, alias)
			}
			h.port = p
		} else {
			h.port = 22
		}
	}
	if h.user == "" {
		h.user = get("User")
	}
	if h.user == "" {
		h.user = localUser()
	}
	if target && len(c.IdentityFiles) > 0 {
		h.identityFiles, h.explicitKeys = c.IdentityFiles, true
	} else if v := files.getAll(alias, "IdentityFile"); len(v) > 0 {
		// As with OpenSSH, a missing file named in ssh_config is skipped.
		h.identityFiles = v
	} else {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			h.identityFiles = append(h.identityFiles, filepath.Join(homeDir(), ".ssh", n))
		}
	}
	for i, f := range h.identityFiles {
		h.identityFiles[i] = expandTokens(f, alias, h.host, h.port, h.user)
	}
	h.identitiesOnly = strings.EqualFold(get("IdentitiesOnly"), "yes")

	mode := c.HostKeyMode
	if mode == "" {
		m, err := ParseHostKeyMode(get("StrictHostKeyChecking"))
		if err != nil {
			return nil, fmt.Errorf("tunnel: ssh: StrictHostKeyChecking for %s in ssh_config: %w", alias, err)
		}
		mode = m
	}
	h.hostKeys.mode = mode
	// accept-new records in the first of the user's files, as OpenSSH
	// does: nowhere with UserKnownHostsFile none.
	userFiles, globalFiles := c.KnownHostsFiles, []string(nil)
	if len(userFiles) == 0 {
		userFiles = strings.Fields(get("UserKnownHostsFile"))
		if len(userFiles) == 0 {
			userFiles = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
		}
		globalFiles = strings.Fields(get("GlobalKnownHostsFile"))
		if len(globalFiles) == 0 {
			globalFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
		}
	}
	for i, f := range append(userFiles, globalFiles...) {
		if f == "none" {
			continue
		}
		f = expandTokens(f, alias, h.host, h.port, h.user)
		h.hostKeys.files = append(h.hostKeys.files, f)
		if i == 0 {
			h.hostKeys.record = f
		}
	}
	h.hostKeys.hash = strings.EqualFold(get("HashKnownHosts"), "yes")

	h.connectTimeout = c.ConnectTimeout
	if v := get("ConnectTimeout"); h.connectTimeout == 0 && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("tunnel: ssh: bad ConnectTimeout %q for %s in ssh_config", v, alias)
		}
		h.connectTimeout = time.Duration(n) * time.Second
	}
	h.keepAlive, h.keepAliveMax = c.KeepAliveInterval, c.KeepAliveCountMax
	if h.keepAlive == 0 {
		h.keepAlive = defaultKeepAlive
		if v := get("ServerAliveInterval"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("tunnel: ssh: bad ServerAliveInterval %q for %s in ssh_config", v, alias)
			}
			h.keepAlive = time.Duration(n) * time.Second
			if n == 0 {
				h.keepAlive = -1
			}
		}
	}
	if h.keepAliveMax == 0 {
		h.keepAliveMax = 3
		if v := get("ServerAliveCountMax"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				h.keepAliveMax = n
			}
		}
	}
	return h, nil
}

// parseHostSpec reads [user@]host[:port] or ssh://[user@]host[:port], the
// forms ProxyJump and the command line take. An IPv6 address with a port
// is written in brackets.
func parseHostSpec(s string) (user, host string, port int, err error) {
	if s == "" {
		return "", "", 0, fmt.Errorf("empty host")
	}
	if strings.HasPrefix(s, "ssh://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", "", 0, err
		}
		if u.Path != "" && u.Path != "/" {
			return "", "", 0, fmt.Errorf("unexpected path %q in %s", u.Path, s)
		}
		if u.User != nil {
			user = u.User.Username()
		}
		host = u.Hostname()
		if p := u.Port(); p != "" {
			if port, err = strconv.Atoi(p); err != nil {
				return "", "", 0, fmt.Errorf("bad port %q", p)
			}
		}
		if host == "" {
			return "", "", 0, fmt.Errorf("no host in %s", s)
		}
		return user, host, port, nil
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, s = s[:i], s[i+1:]
	}
	host = s
	if h, p, err := net.SplitHostPort(s); err == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("bad port %q", p)
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("no host in %q", s)
	}
	return user, host, port, nil
}

// expandTokens expands ~ and the ssh_config tokens chopplan knows: %% %d
// %h %n %p %r %u. host, port and user may be unknown yet (empty, 0).
func expandTokens(s, alias, host string, port int, user ...string) string {
	if strings.HasPrefix(s, "~/") || s == "~" {
		s = homeDir() + s[1:]
	}
	if !strings.Contains(s, "%") {
		return s
	}
	if host == "" {
		host = alias
	}
	r := ""
	if len(user) > 0 {
		r = user[0]
	}
	p := ""
	if port > 0 {
		p = strconv.Itoa(port)
	}
	return strings.NewReplacer("%%", "%", "%d", homeDir(), "%h", host, "%n", alias, "%p", p, "%r", r, "%u", localUser()).Replace(s)
}

// localUser is the name of the user running chopplan.
func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
