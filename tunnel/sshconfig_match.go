package tunnel

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
)

// The ssh_config parser reads Host blocks and Include lines but refuses
// every Match line, and Fedora's and RHEL's /etc/ssh/ssh_config includes
// a file that begins "Match final all": read as it is, no SSH target would
// work there. So a file is read here first, its Include lines replaced by
// the files they name (as OpenSSH reads them: in place, in the order of
// their names) and each Match line by the Host line that selects the same
// hosts, or none (see docs/ssh.md):
//
//   - all: every host; final: as the rest of the line says, and the block
//     goes after all others (configWriter);
//   - canonical: none (chopplan does not canonicalise host names), and
//     !canonical every host;
//   - host and originalhost: the patterns, matched against the name the
//     tunnel was given (OpenSSH matches host against HostName);
//   - localuser: decided now, against the user running chopplan;
//   - user, exec, localnetwork, tagged, version, sessiontype, command,
//     and more than one host criterion: none, as chopplan cannot decide
//     them without running commands or reading the configuration twice.

// maxIncludeDepth is how deep Include lines may nest, as in OpenSSH.
const maxIncludeDepth = 16

// neverHost is a Host line no host matches.
const neverHost = "Host !*"

// readConfigFile returns path's ssh_config text with its Include and
// Match lines rewritten as above: its Match final blocks apart, to go
// after everything else read (configWriter). user tells a user's
// configuration, whose relative Include paths are under ~/.ssh, from the
// system's (/etc/ssh). Each part ends with a block for every host, so
// that what follows it is not taken into one of its blocks.
func readConfigFile(path string, user bool) (main, finals []byte, err error) {
	var w configWriter
	w.cur = &w.main
	if err := w.expand(path, user, block{line: "Host *", every: true}, 0); err != nil {
		return nil, nil, err
	}
	if w.finals.Len() > 0 {
		w.finals.WriteString("Host *\n")
	}
	w.main.WriteString("Host *\n")
	return w.main.Bytes(), w.finals.Bytes(), nil
}

// configWriter gathers the rewritten text. Blocks of Match final go after
// all the others: OpenSSH applies them in a second pass, so that they only
// set what nothing else did, which last place gives them under the rule
// that the first value found wins.
type configWriter struct {
	main, finals bytes.Buffer
	cur          *bytes.Buffer // main, or finals inside a final block
}

// block is the block lines belong to: its Host line, whether it is every
// host's, and whether it is a final one.
type block struct {
	line  string
	every bool
	final bool
}

func (w *configWriter) line(s string) {
	w.cur.WriteString(s)
	w.cur.WriteByte('\n')
}

// open starts block b.
func (w *configWriter) open(b block) {
	w.cur = &w.main
	if b.final {
		w.cur = &w.finals
	}
	w.line(b.line)
}

// expand writes path's text, rewritten. enclosing is the block the file
// is included in (every host's at the top level): the file's blocks then
// apply to the hosts both select, as OpenSSH has it. A block for every
// host (Host *, Match all) is the enclosing block; one for some hosts,
// whose meet with the enclosing's a Host line cannot say, selects none.
func (w *configWriter) expand(path string, user bool, enclosing block, depth int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	cur := enclosing // the block the lines belong to
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		keyword, args := splitConfigLine(line)
		switch strings.ToLower(keyword) {
		case "host":
			cur = scoped(block{line: line, every: len(args) == 1 && args[0] == "*"}, enclosing)
			w.open(cur)
		case "match":
			cur = scoped(matchAsBlock(args), enclosing)
			w.open(cur)
		case "include":
			if depth >= maxIncludeDepth {
				return fmt.Errorf("%s:%d: Include nested more than %d deep", path, n, maxIncludeDepth)
			}
			for _, pattern := range args {
				for _, f := range includedFiles(pattern, user) {
					if err := w.expand(f, user, cur, depth+1); err != nil {
						return fmt.Errorf("%s:%d: Include: %w", path, n, err)
					}
				}
			}
			// The lines after it are the enclosing block's again, whatever
			// blocks the included files opened.
			w.open(cur)
		default:
			w.line(line)
		}
	}
	return sc.Err()
}

// scoped is block b, opened in a file included in the block enclosing
// (expand).
func scoped(b block, enclosing block) block {
	b.final = b.final || enclosing.final
	switch {
	case enclosing.every:
		return b
	case b.every:
		return block{line: enclosing.line, final: b.final || enclosing.final}
	}
	return block{line: neverHost}
}

// includedFiles are the regular files an Include pattern names, in
// lexical order, as OpenSSH's glob(3) finds them: a * does not match a
// leading dot (an editor's swap or lock file), and what is not a regular
// file (a directory, a dangling link) is passed over. None is no error.
func includedFiles(pattern string, user bool) []string {
	pattern = expandTokens(pattern, "", "", 0)
	if !filepath.IsAbs(pattern) {
		if user {
			pattern = filepath.Join(homeDir(), ".ssh", pattern)
		} else {
			pattern = filepath.Join("/etc/ssh", pattern)
		}
	}
	matches, _ := filepath.Glob(pattern) // a bad pattern matches nothing
	var files []string
	for _, m := range matches {
		if dotMatched(pattern, m) {
			continue
		}
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, m)
		}
	}
	slices.Sort(files)
	return files
}

// dotMatched reports whether a component of match that begins with a dot
// was matched by one of pattern's that does not (a * or ?, which in
// OpenSSH's glob do not match a leading dot). Glob matches component by
// component, so the two have as many.
func dotMatched(pattern, match string) bool {
	ps := strings.Split(filepath.Clean(pattern), string(filepath.Separator))
	ms := strings.Split(filepath.Clean(match), string(filepath.Separator))
	for i := range min(len(ps), len(ms)) {
		if strings.HasPrefix(ms[i], ".") && !strings.HasPrefix(ps[i], ".") {
			return true
		}
	}
	return false
}

// splitConfigLine splits an ssh_config line into its keyword and
// arguments ("Keyword=arg" included, double quotes grouping). A comment
// or blank line has no keyword.
func splitConfigLine(line string) (string, []string) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return "", nil
	}
	i := strings.IndexAny(s, " \t=")
	if i < 0 {
		return s, nil
	}
	keyword, rest := s[:i], strings.TrimLeft(s[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	var args []string
	for rest != "" {
		var arg string
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				arg, rest = rest[1:], ""
			} else {
				arg, rest = rest[1:end+1], rest[end+2:]
			}
		} else if j := strings.IndexAny(rest, " \t"); j >= 0 {
			arg, rest = rest[:j], rest[j:]
		} else {
			arg, rest = rest, ""
		}
		if strings.HasPrefix(arg, "#") {
			break
		}
		args = append(args, arg)
		rest = strings.TrimLeft(rest, " \t")
	}
	return keyword, args
}

// matchAsBlock is the block a Match line with these criteria opens: the
// Host line that selects the same hosts (see the comment above), final
// when final is among its criteria.
func matchAsBlock(args []string) block {
	never := block{line: neverHost}
	var hosts []string
	hostCriteria, final := 0, false
	for i := 0; i < len(args); i++ {
		criterion := strings.ToLower(args[i])
		negated := strings.HasPrefix(criterion, "!")
		criterion = strings.TrimPrefix(criterion, "!")
		switch criterion {
		case "all":
			if negated {
				return never
			}
			continue
		case "final": // !final: the first pass, which is every block's here
			final = final || !negated
			continue
		case "canonical":
			if !negated {
				return never
			}
			continue
		}
		if i+1 >= len(args) {
			return never // a criterion without its argument
		}
		i++ // the argument, which may be the word final
		patterns := strings.Split(args[i], ",")
		switch criterion {
		case "host", "originalhost":
			if hostCriteria++; hostCriteria > 1 {
				return never
			}
			if negated {
				hosts = append(hosts, "*")
				for _, p := range patterns {
					if !strings.HasPrefix(p, "!") {
						hosts = append(hosts, "!"+p)
					}
				}
			} else {
				hosts = append(hosts, patterns...)
			}
		case "localuser":
			if matchPatternList(localUserName(), patterns) == negated {
				return never
			}
		default:
			return never
		}
	}
	if len(hosts) == 0 {
		return block{line: "Host *", every: true, final: final}
	}
	return block{line: "Host " + strings.Join(hosts, " "), final: final}
}

// matchPatternList reports whether s matches a comma-separated ssh_config
// pattern list: some pattern matches and no negated one does.
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if ok, _ := filepath.Match(strings.TrimPrefix(p, "!"), s); ok {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

func localUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
