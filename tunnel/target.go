package tunnel

import (
	"fmt"
	"strings"
)

// TargetDefaults are the command line's settings for the targets it names
// (--known-hosts, --identity-file, --jump, --ssh-config).
type TargetDefaults struct {
	// HostKeyMode applies to ssh targets; empty follows ssh_config.
	HostKeyMode HostKeyMode
	// IdentityFile is offered to ssh targets after ssh-agent's keys.
	IdentityFile string
	// ProxyJump reaches ssh targets through jump hosts (ssh -J syntax).
	ProxyJump string
	// SSHConfigFile replaces ~/.ssh/config; "none" reads none.
	SSHConfigFile string
}

// TargetParser makes a Kind from what follows "SCHEME://" in a target.
type TargetParser func(rest string, d TargetDefaults) (Kind, error)

var targetSchemes = &named[TargetParser]{what: "target scheme"}

// RegisterTargetScheme makes ParseTarget accept "scheme://rest". Each
// kind registers its own scheme from its file's init.
func RegisterTargetScheme(scheme string, parse TargetParser) { targetSchemes.add(scheme, parse) }

// TargetSchemes lists the schemes ParseTarget accepts.
func TargetSchemes() []string {
	out := targetSchemes.names()
	for i, s := range out {
		out[i] = s + "://"
	}
	return out
}

// ParseTarget reads a target as the command line's --on takes it:
//
//	local                        this machine, as the current user
//	sudo:USER (or sudo)          this machine, as USER (root) through sudo -n
//	ssh://[user@]host[:port]     over SSH; host may be an ssh_config alias
//	[user@]host[:port]           the same, without the scheme
//	exec://COMMAND ARGS...       through a command relaying stdin and stdout
//	                             to a POSIX sh, split into words as sh would
//	                             ('…' and "…" quoting, backslash escapes;
//	                             no expansion of $, ~ or globs)
//
// and every scheme another kind registered (docker://, docker-image://).
func ParseTarget(s string, d TargetDefaults) (Kind, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, fmt.Errorf("tunnel: empty target")
	case s == "local":
		return Local("local"), nil
	case s == "sudo":
		return Sudo("", "root"), nil
	case strings.HasPrefix(s, "sudo:"):
		user := strings.TrimPrefix(s, "sudo:")
		if user == "" {
			return nil, fmt.Errorf("tunnel: target %q names no user (sudo:USER)", s)
		}
		return Sudo("", user), nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if strings.ContainsAny(s, " \t/") {
			return nil, fmt.Errorf("tunnel: target %q is not a host name; known forms: local, sudo:USER, [user@]host[:port], %s", s, strings.Join(TargetSchemes(), ", "))
		}
		return parseSSHTarget(s, d)
	}
	parse, ok := targetSchemes.get(scheme)
	if !ok {
		return nil, fmt.Errorf("tunnel: unknown target scheme %q in %q; known: local, sudo:USER, %s", scheme+"://", s, strings.Join(TargetSchemes(), ", "))
	}
	return parse(rest, d)
}

// parseSSHTarget makes an ssh kind from [user@]host[:port].
func parseSSHTarget(rest string, d TargetDefaults) (Kind, error) {
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return nil, fmt.Errorf("tunnel: ssh target %q: unexpected path %q (want ssh://[user@]host[:port])", rest, rest[i:])
	}
	user, host, port, err := parseHostSpec(rest)
	if err != nil {
		return nil, fmt.Errorf("tunnel: ssh target %q: %w", rest, err)
	}
	cfg := SSHConfig{Name: rest, Host: host, User: user, Port: port, HostKeyMode: d.HostKeyMode,
		ProxyJump: d.ProxyJump, ConfigFile: d.SSHConfigFile}
	if d.IdentityFile != "" {
		cfg.IdentityFiles = []string{d.IdentityFile}
	}
	return SSH(cfg)
}

// parseExecTarget makes an exec kind from a command line.
func parseExecTarget(rest string, _ TargetDefaults) (Kind, error) {
	argv, err := SplitCommand(rest)
	if err != nil {
		return nil, fmt.Errorf("tunnel: exec target %q: %w", rest, err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("tunnel: exec target names no command (exec://COMMAND ARGS...)")
	}
	return Exec(strings.Join(argv, " "), argv), nil
}

func init() {
	RegisterTargetScheme("ssh", parseSSHTarget)
	RegisterTargetScheme("exec", parseExecTarget)
}

// SplitCommand splits a command line into words with the quoting rules of
// sh: whitespace separates words; '…' keeps everything literally; "…"
// keeps everything but \" \\ \$ \` and a backslash-newline; a backslash
// outside quotes keeps the next character. Nothing is expanded.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated \" quote")
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
