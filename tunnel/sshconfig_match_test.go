package tunnel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parsed reads and parses the files as loadConfigFiles does, and returns
// the text parsed too.
func parsed(t *testing.T, paths ...string) (configFiles, string) {
	t.Helper()
	files, err := parseConfigPaths(paths, true)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, p := range paths {
		m, f, _ := readConfigFile(p, true)
		text.Write(m)
		text.Write(f)
	}
	return files, text.String()
}

func TestMatchAsHost(t *testing.T) {
	me := localUserName()
	for _, tc := range []struct {
		match, host string
	}{
		{"all", "Host *"},
		{"final all", "Host *"},
		{"final", "Host *"},
		{"!final all", "Host *"},
		{"canonical all", neverHost},
		{"!canonical", "Host *"},
		{"host web*,db1", "Host web* db1"},
		{"originalhost web*", "Host web*"},
		{"final host web*", "Host web*"},
		{"!host web*,!web9", "Host * !web*"},
		{"host a host b", neverHost},
		{"localuser " + me, "Host *"},
		{"localuser !" + me + ",*", neverHost},
		{"!localuser " + me, neverHost},
		{"user root", neverHost},
		{`exec "test -f /x"`, neverHost},
		{"host", neverHost},
	} {
		_, args := splitConfigLine("Match " + tc.match)
		if got := matchAsBlock(args).line; got != tc.host {
			t.Errorf("Match %s: %q, want %q", tc.match, got, tc.host)
		}
	}
}

// A configuration with Match lines, in the file and in files it
// includes, reads as OpenSSH would read it.
func TestConfigWithMatchAndInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// As Fedora's 50-redhat.conf, included by its /etc/ssh/ssh_config.
	write("conf.d/50-final.conf", "Match final all\n\tConnectTimeout 7\n\tUser everyone\n")
	// What a * passes over, as OpenSSH's glob does: an editor's swap file,
	// a dangling lock link, a directory.
	write("conf.d/.50-final.conf.swp", "Port 1111\n")
	if err := os.Symlink("nowhere", filepath.Join(dir, "conf.d", ".#lock.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "conf.d", "sub.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("conf.d/10-db.conf", "Match originalhost db*\n  User dbadmin\nHost other\n  Port 9\n")
	main := write("config", `host	web
  User deploy
  Include `+dir+`/conf.d/*.conf
  Port 2200
Match user root
  Port 1
Match exec "true"
  Port 2
Host *
  Port 22
`)
	files, text := parsed(t, main)
	expectSettings(t, files, text, []setting{
		{"web", "User", "deploy"},
		{"web", "Port", "2200"},        // after the Include, web's block again
		{"web", "ConnectTimeout", "7"}, // the final block, included in web's, is web's
		{"db1", "User", ""},            // db*'s block, included in web's, is no host's
		{"other", "Port", "22"},
		{"db1", "Port", "22"}, // Match user and Match exec select no host
	})
}

// setting is what files say for a key of a host.
type setting struct{ alias, key, want string }

func expectSettings(t *testing.T, files configFiles, text string, want []setting) {
	t.Helper()
	for _, tc := range want {
		if got := files.get(tc.alias, tc.key); got != tc.want {
			t.Errorf("%s %s = %q, want %q\n%s", tc.alias, tc.key, got, tc.want, text)
		}
	}
}

// A file included at the top level (before any block: a block lasts to
// the next Host or Match line) keeps its blocks as they are.
func TestConfigIncludeAtTopLevel(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	os.WriteFile(inc, []byte("Match final all\n  User everyone\nHost db*\n  Port 5432\n"), 0o644)
	main := filepath.Join(dir, "config")
	os.WriteFile(main, []byte("Include "+inc+"\nHost web\n  User deploy\nHost *\n  Port 22\n"), 0o644)
	files, text := parsed(t, main)
	expectSettings(t, files, text, []setting{
		{"web", "User", "deploy"}, // a final block sets only what nothing else did
		{"db1", "User", "everyone"},
		{"db1", "Port", "5432"},
		{"web", "Port", "22"},
	})
}

// A block for every host is known by its patterns, however it is written:
// a file included in it keeps its own blocks.
func TestConfigIncludeInABlockForEveryHost(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	os.WriteFile(inc, []byte("Host db*\n  Port 5432\n"), 0o644)
	for _, header := range []string{"Host *", "host\t*", "Host=*", `Host "*"`} {
		main := filepath.Join(dir, "config")
		os.WriteFile(main, []byte(header+"\n  Include "+inc+"\n"), 0o644)
		files, text := parsed(t, main)
		if got := files.get("db1", "Port"); got != "5432" {
			t.Errorf("under %q: db1 Port = %q\n%s", header, got, text)
		}
	}
}

// Match final blocks go after every other block of the user's and the
// system's files alike (OpenSSH's second pass), blocks included under one
// are final too, and the word final as a criterion's argument is not one.
func TestConfigFinalBlocksGoLast(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o644)
		return path
	}
	inc := write("inc.conf", "Host web\n  User included\n")
	user := write("user", "Match final all\n  User final-user\n  Include "+inc+"\nMatch host final\n  Port 7\n")
	system := write("system", "Host web\n  User system\nHost *\n  Port 22\n")
	files, text := parsed(t, user, system)
	expectSettings(t, files, text, []setting{
		{"web", "User", "system"},    // the system's plain block before any final one
		{"db", "User", "final-user"}, // nothing else sets it
		{"final", "Port", "7"},       // a host named final: not a final block
	})
}

// A * passes over a leading dot in any component it matches, as in
// OpenSSH's glob (~/.ssh/.git/config under Include */config).
func TestIncludePassesOverDotDirectories(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{".git", "team"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "config"), []byte("Host "+d+"\n  Port 1\n"), 0o644)
	}
	got := includedFiles(filepath.Join(dir, "*", "config"), true)
	if len(got) != 1 || got[0] != filepath.Join(dir, "team", "config") {
		t.Fatalf("included %v", got)
	}
}
