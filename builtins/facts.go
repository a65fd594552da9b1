package builtins

import (
	"bufio"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// FactsType is the shape of the facts builtin's result.
var FactsType = cty.Object(map[string]cty.Type{
	"hostname": cty.String, "os": cty.String, "arch": cty.String, "kernel": cty.String,
	"distro_id": cty.String, "distro_version": cty.String, "os_family": cty.String,
	"cpus": cty.Number, "memory_bytes": cty.Number,
	"user": cty.String, "uid": cty.Number, "home": cty.String, "shell": cty.String, "path": cty.String,
})

func init() {
	MustRegister(Spec{
		Name:       "facts",
		Doc:        "Reports the target's hostname, OS, architecture, kernel, distribution, CPUs, memory and user.",
		Result:     FactsType,
		CheckMode:  true,
		Idempotent: true,
		Run:        facts,
	})
}

func facts(agent.CallContext, cty.Value) (cty.Value, error) {
	host, _ := os.Hostname()
	osr := readOSRelease()
	family := osr["ID"]
	if like := strings.Fields(osr["ID_LIKE"]); len(like) > 0 {
		family = like[len(like)-1]
	}
	var uts syscall.Utsname
	kernel := ""
	if syscall.Uname(&uts) == nil {
		kernel = utsString(uts.Release[:])
	}
	uid := os.Getuid()
	name, home, shell := strconv.Itoa(uid), os.Getenv("HOME"), os.Getenv("SHELL")
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name, home = u.Username, u.HomeDir
	}
	if shell == "" {
		shell = loginShell(name)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"hostname": cty.StringVal(host), "os": cty.StringVal(runtime.GOOS), "arch": cty.StringVal(runtime.GOARCH),
		"kernel": cty.StringVal(kernel), "distro_id": cty.StringVal(osr["ID"]), "distro_version": cty.StringVal(osr["VERSION_ID"]),
		"os_family": cty.StringVal(family), "cpus": intVal(int64(runtime.NumCPU())), "memory_bytes": intVal(memTotal()),
		"user": cty.StringVal(name), "uid": intVal(int64(uid)), "home": cty.StringVal(home), "shell": cty.StringVal(shell),
		"path": cty.StringVal(os.Getenv("PATH")),
	}), nil
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// readOSRelease parses /etc/os-release (KEY=value, values maybe quoted).
func readOSRelease() map[string]string {
	out := map[string]string{}
	f, err := os.Open("/etc/os-release")
	if err != nil {
		if f, err = os.Open("/usr/lib/os-release"); err != nil {
			return out
		}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// loginShell reads the user's shell from /etc/passwd when $SHELL is unset
// (as it is under sudo and docker exec).
func loginShell(name string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == name {
			return f[6]
		}
	}
	return ""
}
