package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
	"golang.org/x/crypto/ssh"
)

// sshKind starts the agent over one SSH connection per agent.
type sshKind struct {
	cfg   SSHConfig
	build atomic.Pointer[string]
}

// SSH returns the kind that reaches cfg.Host over SSH, with
// golang.org/x/crypto/ssh: host keys checked against known_hosts, keys
// from ssh-agent and identity files, ~/.ssh/config honoured, jump hosts,
// keepalives. The agent is bootstrapped over one session and cached on
// the host by content hash.
func SSH(cfg SSHConfig) (Kind, error) {
	if cfg.Host == "" {
		return nil, errors.New("tunnel: ssh: no host")
	}
	if cfg.HostKeyMode != "" {
		if _, err := ParseHostKeyMode(string(cfg.HostKeyMode)); err != nil {
			return nil, err
		}
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Host
	}
	return &sshKind{cfg: cfg}, nil
}

func (k *sshKind) Name() string { return k.cfg.Name }

// DialError is a host that could not be reached: the connection was
// refused or timed out, the name did not resolve, or the host hung up
// during the handshake. A Tunnel reports it as an UnreachableError.
type DialError struct {
	// Host is the host as the user named it; Addr is what was dialled.
	Host, Addr string
	// Via is the jump host that dialled, if any.
	Via string
	Err error
}

func (e *DialError) Error() string {
	var why string
	var dns *net.DNSError
	switch {
	case errors.As(e.Err, &dns):
		why = fmt.Sprintf("cannot resolve host name %q", dns.Name)
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		why = "connection refused (is sshd running and listening on that port?)"
	case errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, os.ErrDeadlineExceeded) || isTimeout(e.Err):
		why = "connection timed out"
	default:
		why = e.Err.Error()
	}
	via := ""
	if e.Via != "" {
		via = " via " + e.Via
	}
	return fmt.Sprintf("tunnel: ssh: cannot reach %s (%s%s): %s", e.Host, e.Addr, via, why)
}

func (e *DialError) Unwrap() error { return e.Err }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sshConn is a connection to the target, through its jump hosts.
type sshConn struct {
	client *ssh.Client
	jumps  []*ssh.Client // closed after client, innermost first
	dead   atomic.Pointer[peerDeadError]
	once   sync.Once
}

func (c *sshConn) close() {
	c.once.Do(func() {
		c.client.Close()
		for i := len(c.jumps) - 1; i >= 0; i-- {
			c.jumps[i].Close()
		}
	})
}

// peerDeadError is a connection closed because the host stopped
// answering keepalives. It is os.ErrClosed to whoever reads the stream:
// the stream was closed, and this says why.
type peerDeadError struct {
	host  string
	after time.Duration
}

func (e *peerDeadError) Error() string {
	return fmt.Sprintf("ssh: %s stopped answering: no reply to keepalives for %v (ServerAliveInterval × ServerAliveCountMax)", e.host, e.after)
}

func (e *peerDeadError) Is(target error) bool { return target == os.ErrClosed }

// dial connects through every hop of route.
func dial(ctx context.Context, route sshRoute, warn io.Writer) (*sshConn, error) {
	c := &sshConn{}
	var via *ssh.Client
	for i, hop := range route {
		client, err := dialHop(ctx, hop, via, route, i, warn)
		if err != nil {
			for j := len(c.jumps) - 1; j >= 0; j-- {
				c.jumps[j].Close()
			}
			return nil, err
		}
		if i < len(route)-1 {
			c.jumps = append(c.jumps, client)
		} else {
			c.client = client
		}
		via = client
	}
	return c, nil
}

// dialHop opens the TCP connection to hop (directly or through via) and
// runs the SSH handshake: host key check first, then authentication.
func dialHop(ctx context.Context, hop *sshHop, via *ssh.Client, route sshRoute, i int, warn io.Writer) (*ssh.Client, error) {
	if hop.connectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, hop.connectTimeout)
		defer cancel()
	}
	addr := hop.addr()
	viaName := ""
	if i > 0 {
		viaName = route[i-1].alias
	}
	unreachable := func(err error) error {
		if ctx.Err() != nil && !isTimeout(err) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return &DialError{Host: hop.alias, Addr: addr, Via: viaName, Err: err}
	}
	var raw net.Conn
	var err error
	if via == nil {
		d := net.Dialer{KeepAlive: 15 * time.Second}
		raw, err = d.DialContext(ctx, "tcp", addr)
		if err == nil {
			raw = quickAck(raw)
		}
	} else {
		raw, err = via.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, unreachable(err)
	}
	policy := hop.hostKeys
	policy.warn = warn
	cb, algos, err := policy.callback(addr)
	if err != nil {
		raw.Close()
		return nil, err
	}
	auth, err := loadAuth(hop.identityFiles, hop.explicitKeys, hop.identitiesOnly, hop.agentSocket, hop.passphrase, warn)
	if err != nil {
		raw.Close()
		return nil, err
	}
	defer auth.close()
	// Signing with an agent's key waits on the agent: ending the connect
	// closes it too.
	stopAuth := context.AfterFunc(ctx, auth.close)
	defer stopAuth()
	cfg := &ssh.ClientConfig{
		User:              hop.user,
		Auth:              auth.methods(),
		HostKeyCallback:   cb,
		HostKeyAlgorithms: preferAlgorithms(algos),
		ClientVersion:     "SSH-2.0-chopplan",
	}
	// The handshake has no context of its own: closing the connection is
	// how a deadline or a cancellation interrupts it.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	conn, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	interrupted := !stop()
	if err != nil {
		var hke *HostKeyError
		switch {
		case errors.As(err, &hke):
			return nil, hke
		case isAuthFailure(err):
			return nil, &AuthError{Host: hop.alias, User: hop.user, Offered: auth.offered, Err: err}
		case interrupted:
			return nil, unreachable(ctx.Err())
		case strings.Contains(err.Error(), "tunnel: "):
			return nil, errors.Unwrap(err) // ours, from a key or the known_hosts file
		}
		return nil, unreachable(err)
	}
	return ssh.NewClient(conn, chans, reqs), nil
}

// defaultHostKeyAlgorithms follow the algorithms known_hosts has for a
// host, so that a host is still asked for some key when it has none of
// those (and then refused with a clear "changed key" error).
var defaultHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// preferAlgorithms are the host key algorithms to ask for: those known
// for the host first, then the plain ones, never a certificate unknown
// to known_hosts (OpenSSH asks an unknown host for its plain key too).
func preferAlgorithms(known []string) []string {
	out := append([]string(nil), known...)
	for _, a := range defaultHostKeyAlgorithms {
		if !containsString(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// probe is a round trip through the server: its answer says the server
// has read everything sent before it (see pacedWriter).
func (c *sshConn) probe() error {
	_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
	return err
}

// keepAlive probes the connection every interval; when a probe has no
// answer within interval × max, the host is taken for gone and the
// connection closed, so reads on the agent stream end at once instead
// of waiting on a silent TCP connection.
func (c *sshConn) keepAlive(host string, interval time.Duration, max int) {
	if interval <= 0 {
		return
	}
	done := make(chan struct{})
	go func() { c.client.Wait(); close(done) }()
	limit := interval * time.Duration(max)
	for {
		select {
		case <-done:
			return
		case <-time.After(interval):
		}
		reply := make(chan error, 1)
		go func() {
			reply <- c.probe()
		}()
		select {
		case <-done:
			return
		case err := <-reply:
			if err != nil {
				return
			}
		case <-time.After(limit):
			c.dead.Store(&peerDeadError{host: host, after: limit})
			c.close()
			return
		}
	}
}

// sudoMarker begins the lines the sudo wrapper prints: "chopplan-sudo
// password" when sudo wants the password next on stdin, "chopplan-sudo
// none" when the sh it runs under sudo reads stdin from then on.
const sudoMarker = "chopplan-sudo"

// shellCommand is the session's command: a POSIX sh reading the bootstrap
// script on stdin, as the login user or through sudo. The command passes
// through the login shell, so it uses only what every shell understands.
func (k *sshKind) shellCommand() string {
	if !k.cfg.Sudo {
		return "exec sh"
	}
	u := shellQuote(k.sudoUser())
	if k.cfg.SudoPassword == "" {
		return "exec sudo -n -H -u " + u + " -- sh"
	}
	// Ask sudo first whether it needs the password: with -S it would read
	// one from stdin, and a NOPASSWD rule would leave the password there
	// for the script to trip over. The password is tried on its own first
	// (printf is the shell's own, so it is in no process's argv): sudo -S
	// asks up to three times, and would read the script's first lines as
	// the later tries, more failed logins where a lockout policy counts
	// them. Then sh runs under a sudo that reads it again: -k, for sudo
	// may keep credentials, but without a terminal keys them on the
	// process that ran it, which exec replaces. set +x keeps a login
	// shell's tracing from printing it.
	//
	// A sh that sudo runs without reading the password (a rule that lets
	// sh run without one, but not true) would take the password for the
	// script's first command, and print it in its complaint. So the
	// controller sends a line of its own after it (sudoSync), and the sh
	// under sudo reads up to that line before it reads the script: the
	// password, if sudo left it, is read and dropped.
	ask := "echo " + sudoMarker + " password"
	syncThenSh := shellQuote(`IFS= read -r l; [ "$l" = ` + sudoSync + ` ] || { IFS= read -r l; [ "$l" = ` + sudoSync + ` ] || exit 1; }; l=; exec sh`)
	return "set +x; if sudo -n -u " + u + " true 2>/dev/null; then echo " + sudoMarker + " none; exec sudo -n -H -u " + u + " -- sh; fi; " +
		ask + "; IFS= read -r p || exit 1; " +
		"printf '%s\\n' \"$p\" | sudo -S -k -p '' -u " + u + " true || exit 1; p=; " +
		ask + "; exec sudo -S -k -p '' -H -u " + u + " -- sh -c " + syncThenSh
}

// sudoSync follows the password sent for the sh under sudo (shellCommand).
const sudoSync = "chopplan-sudo-sync"

func (k *sshKind) sudoUser() string {
	if k.cfg.SudoUser == "" {
		return "root"
	}
	return k.cfg.SudoUser
}

// shellQuote quotes s for any POSIX-like shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Start connects, checks the host key, authenticates, opens one session
// and bootstraps the agent through it.
func (k *sshKind) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	route, err := k.cfg.resolve()
	if err != nil {
		return nil, err
	}
	warn := env.Stderr
	if warn == nil {
		warn = io.Discard
	}
	conn, err := dial(ctx, route, warn)
	if err != nil {
		return nil, err
	}
	target := route[len(route)-1]
	s, err := k.startSession(ctx, conn, target, env)
	if err != nil {
		conn.close()
		return nil, err
	}
	go conn.keepAlive(k.cfg.Name, target.keepAlive, target.keepAliveMax)
	return s, nil
}

func (k *sshKind) startSession(ctx context.Context, conn *sshConn, target *sshHop, env *StartEnv) (Stream, error) {
	sess, err := conn.client.NewSession()
	if err != nil {
		return nil, &DialError{Host: target.alias, Addr: target.addr(), Err: fmt.Errorf("opening a session: %w", err)}
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	tail := &tailBuffer{}
	if env.Stderr != nil {
		sess.Stderr = io.MultiWriter(env.Stderr, tail)
	} else {
		sess.Stderr = tail
	}
	if err := sess.Start(k.shellCommand()); err != nil {
		return nil, &AgentStartError{Host: k.cfg.Name, Reason: "cannot run a command: " + err.Error()}
	}
	stop := context.AfterFunc(ctx, conn.close)
	defer stop()
	r := bufio.NewReaderSize(stdout, 64<<10)
	w := bootstrapWriter(stdin, target.keepAlive, conn.probe)
	if k.cfg.Sudo && k.cfg.SudoPassword != "" {
		if err := k.sendSudoPassword(w, r, env.Stderr); err != nil {
			if ctx.Err() != nil {
				return nil, &DialError{Host: target.alias, Addr: target.addr(), Err: ctx.Err()}
			}
			drainStderr(sess)
			return nil, k.explainSudo(ctx, tail, err)
		}
	}
	res, err := bootstrap(ctx, k.cfg.Name, w, r, env)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &DialError{Host: target.alias, Addr: target.addr(), Err: ctx.Err()}
		}
		if src := (*sourceError)(nil); errors.As(err, &src) {
			return nil, err // the script still waits for the upload: nothing to drain
		}
		drainStderr(sess)
		return nil, k.explainSudo(ctx, tail, err)
	}
	b := buildOf(res.Binary)
	k.build.Store(&b)
	s := &sshStream{sess: sess, stdin: stdin, conn: conn}
	return &bootstrapStream{r: r, w: stdin, close: s.close, readErr: s.readErr}, nil
}

// drainStderr waits, briefly, for what the session wrote on stderr to be
// copied out: stdout can end before the last stderr line is read, and
// that line (sudo's complaint) is what explains the failure.
func drainStderr(sess *ssh.Session) {
	done := make(chan struct{})
	go func() {
		sess.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// sendSudoPassword follows the sudo wrapper (shellCommand): it sends the
// password, on stdin and never on a command line, each time the wrapper
// asks, and returns once the sh under sudo reads stdin, to which the
// bootstrap script goes next. The wrapper asks twice, to check the
// password and for sh, or says sudo needs none. Other output (a login's,
// on its own lines or before a marker) is reported and skipped; more than
// 64 KiB of it is an error.
func (k *sshKind) sendSudoPassword(stdin io.Writer, r *bufio.Reader, stderr io.Writer) error {
	for asked := 0; ; {
		word, err := readMarkedLine(r, sudoMarker, stderr)
		if errors.Is(err, errTooMuchOutput) {
			return err
		}
		if err != nil {
			return fmt.Errorf("the shell ended before sudo ran (%v)", err)
		}
		switch word {
		case "none":
			return nil
		case "password":
			if asked++; asked > 2 {
				return errors.New("the sudo wrapper asked for the password more than twice")
			}
			line := k.cfg.SudoPassword + "\n"
			if asked == 2 {
				line += sudoSync + "\n" // sudo -S reads the password, sh the rest
			}
			if _, err := io.WriteString(stdin, line); err != nil {
				return err
			}
			if asked == 2 {
				return nil
			}
		default:
			ignoreOutput(stderr, sudoMarker+" "+word)
		}
	}
}

// explainSudo turns sudo's complaints on stderr into what to do.
func (k *sshKind) explainSudo(ctx context.Context, tail *tailBuffer, err error) error {
	if !k.cfg.Sudo {
		return err
	}
	stderr := tail.String()
	u := k.sudoUser()
	switch {
	case strings.Contains(stderr, "password is required") || strings.Contains(stderr, "a terminal is required"):
		return &AgentStartError{Host: k.cfg.Name, Reason: fmt.Sprintf("sudo to %s needs a password and none was given", u),
			Fix: "Give the tunnel's sudo_password (from a sensitive variable), or add a NOPASSWD rule for the login user in /etc/sudoers.d/ on the host"}
	case strings.Contains(stderr, "incorrect password") || strings.Contains(stderr, "Sorry, try again"):
		return &AgentStartError{Host: k.cfg.Name, Reason: fmt.Sprintf("sudo to %s refused the password", u),
			Fix: "Check the tunnel's sudo_password: it is the login user's own password"}
	case strings.Contains(stderr, "is not in the sudoers file") || strings.Contains(stderr, "is not allowed to run sudo"):
		return &AgentStartError{Host: k.cfg.Name, Reason: fmt.Sprintf("the login user may not use sudo to %s", u),
			Fix: "Add a sudoers rule for the login user on the host"}
	case strings.Contains(stderr, "must have a tty"):
		return &AgentStartError{Host: k.cfg.Name, Reason: fmt.Sprintf("sudo to %s on the host requires a terminal (Defaults requiretty), which chopplan's session has not", u),
			Fix: "Exempt the login user in /etc/sudoers.d/ on the host: Defaults:<login user> !requiretty"}
	case strings.Contains(stderr, "unknown user"):
		return &AgentStartError{Host: k.cfg.Name, Reason: fmt.Sprintf("sudo: no user %q on the host", u)}
	case strings.Contains(stderr, "sudo: not found") || strings.Contains(stderr, "sudo: command not found"):
		return &AgentStartError{Host: k.cfg.Name, Reason: "sudo is not installed on the host"}
	}
	return err
}

// ExpectedBuild is the build of the agent the last Start ran, which may
// be another platform's binary.
func (k *sshKind) ExpectedBuild() string {
	if b := k.build.Load(); b != nil {
		return *b
	}
	return buildOf(nil)
}

// sshStream ends the session and the connection.
type sshStream struct {
	sess  *ssh.Session
	stdin io.WriteCloser
	conn  *sshConn
	once  sync.Once
}

// close sends end of input, so the agent exits and kills what it started,
// gives the session a moment to report that, then closes the connection.
func (s *sshStream) close() error {
	s.once.Do(func() {
		s.stdin.Close()
		done := make(chan struct{})
		go func() { s.sess.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeGrace):
		}
		s.conn.close()
	})
	return nil
}

// readErr says why reads ended when a keepalive found the host gone.
func (s *sshStream) readErr(err error) error {
	if d := s.conn.dead.Load(); d != nil {
		return d
	}
	return err
}

// Describe lets a via tunnel open this connection from a far agent: the
// far machine's ssh_config, keys and known_hosts then apply. Secrets
// (passphrase, sudo password) travel with it, inside the tunnel.
func (k *sshKind) Describe() (string, cty.Value) {
	c := k.cfg
	list := func(l []string) cty.Value {
		if len(l) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		v, _ := gocty.ToCtyValue(l, cty.List(cty.String))
		return v
	}
	return "ssh", cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal(c.Name), "host": cty.StringVal(c.Host), "user": cty.StringVal(c.User),
		"port": cty.NumberIntVal(int64(c.Port)), "identity_files": list(c.IdentityFiles),
		"passphrase": cty.StringVal(c.Passphrase), "no_agent": cty.BoolVal(c.NoAgent), "identity_agent": cty.StringVal(c.IdentityAgent),
		"host_key_mode": cty.StringVal(string(c.HostKeyMode)), "known_hosts_files": list(c.KnownHostsFiles),
		"proxy_jump": cty.StringVal(c.ProxyJump), "connect_timeout_ms": cty.NumberIntVal(c.ConnectTimeout.Milliseconds()),
		"keepalive_ms": cty.NumberIntVal(c.KeepAliveInterval.Milliseconds()), "keepalive_count_max": cty.NumberIntVal(int64(c.KeepAliveCountMax)),
		"config_file": cty.StringVal(c.ConfigFile), "sudo": cty.BoolVal(c.Sudo), "sudo_user": cty.StringVal(c.SudoUser),
		"sudo_password": cty.StringVal(c.SudoPassword),
	})
}

// sshConfigFromDescription is the inverse of Describe.
func sshConfigFromDescription(args cty.Value) (SSHConfig, error) {
	var c SSHConfig
	if !args.Type().IsObjectType() {
		return c, errors.New("ssh: description is not an object")
	}
	attr := func(name string, target any) error {
		if !args.Type().HasAttribute(name) || args.GetAttr(name).IsNull() {
			return nil
		}
		return gocty.FromCtyValue(args.GetAttr(name), target)
	}
	var port, kaMax int
	var cto, ka int64
	var mode string
	err := errors.Join(
		attr("name", &c.Name), attr("host", &c.Host), attr("user", &c.User), attr("port", &port),
		attr("identity_files", &c.IdentityFiles), attr("passphrase", &c.Passphrase), attr("no_agent", &c.NoAgent), attr("identity_agent", &c.IdentityAgent),
		attr("host_key_mode", &mode), attr("known_hosts_files", &c.KnownHostsFiles), attr("proxy_jump", &c.ProxyJump),
		attr("connect_timeout_ms", &cto), attr("keepalive_ms", &ka), attr("keepalive_count_max", &kaMax),
		attr("config_file", &c.ConfigFile), attr("sudo", &c.Sudo), attr("sudo_user", &c.SudoUser),
		attr("sudo_password", &c.SudoPassword),
	)
	c.Port, c.KeepAliveCountMax, c.HostKeyMode = port, kaMax, HostKeyMode(mode)
	c.ConnectTimeout, c.KeepAliveInterval = time.Duration(cto)*time.Millisecond, time.Duration(ka)*time.Millisecond
	return c, err
}

func init() {
	RegisterKind("ssh", func(args cty.Value) (Kind, error) {
		c, err := sshConfigFromDescription(args)
		if err != nil {
			return nil, fmt.Errorf("tunnel: %w", err)
		}
		return SSH(c)
	})
}
