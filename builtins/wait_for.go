package builtins

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// WaitForResultType is the shape of the wait_for builtin's result.
var WaitForResultType = cty.Object(map[string]cty.Type{
	"elapsed_ms": cty.Number, "attempts": cty.Number, "changed": cty.Bool, "ready": cty.Bool, "last": cty.String,
})

func init() {
	MustRegister(Spec{
		Name: "wait_for",
		Doc: "Waits until a TCP port accepts connections (or refuses them), a path exists (optionally with content " +
			"matching a regexp) or is gone, or a command exits 0; fails when timeout passes first, saying what it " +
			"last saw. Give exactly one of port, path and command. In check mode it looks once, does not wait, " +
			"and reports in ready whether the condition holds now.",
		Args: []Arg{
			{Name: "port", Type: cty.Number, Doc: "a TCP port to connect to"},
			{Name: "host", Type: cty.String, Default: cty.StringVal("127.0.0.1"), Doc: "the host of port"},
			{Name: "path", Type: cty.String, Doc: "a path to watch"},
			{Name: "contains", Type: cty.String, Doc: "with path: an RE2 regexp the file's content must match"},
			{Name: "command", Type: cty.DynamicPseudoType, Doc: "a command (argv list, or a string for /bin/sh -c) that succeeds once it exits 0"},
			{Name: "state", Type: cty.String, Doc: `with port: "started" (the default: accepts connections) or "stopped" (refuses them); with path: "present" (the default) or "absent"`},
			{Name: "timeout", Type: cty.DynamicPseudoType, Default: cty.StringVal("60s"), Doc: "how long to wait, a duration or seconds"},
			{Name: "delay", Type: cty.DynamicPseudoType, Doc: "how long to wait before the first look"},
			{Name: "interval", Type: cty.DynamicPseudoType, Default: cty.StringVal("1s"), Doc: "how long to wait between looks"},
		},
		Result: WaitForResultType, CheckMode: true, Idempotent: true,
		Run: waitFor,
	})
}

// probe looks once: whether the condition holds, and what it saw.
type probe func(ctx context.Context) (bool, string)

func waitFor(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	look, what, err := waitCondition(args)
	if err != nil {
		return cty.NilVal, err
	}
	var d [3]time.Duration
	for i, name := range []string{"timeout", "delay", "interval"} {
		if d[i], err = argDuration(args, name); err != nil {
			return cty.NilVal, err
		}
		if d[i] < 0 {
			return cty.NilVal, fmt.Errorf("%s must not be negative", name)
		}
	}
	timeout, delay, interval := d[0], d[1], d[2]
	start := time.Now()
	result := func(attempts int, ready bool, last string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"elapsed_ms": intVal(time.Since(start).Milliseconds()), "attempts": intVal(int64(attempts)),
			"changed": cty.False, "ready": cty.BoolVal(ready), "last": cty.StringVal(last),
		})
	}
	if cc.Check() {
		ok, last := look(cc.Context())
		return result(1, ok, last), nil
	}
	ctx, cancel := context.WithTimeout(cc.Context(), timeout)
	defer cancel()
	pause := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	attempts, last := 0, "nothing yet (the timeout passed during the delay)"
	if delay == 0 || pause(delay) {
		for {
			attempts++
			var ok bool
			if ok, last = look(ctx); ok {
				return result(attempts, true, last), nil
			}
			if ctx.Err() != nil || !pause(interval) {
				break
			}
		}
	}
	if err := cc.Context().Err(); err != nil {
		return cty.NilVal, err
	}
	return result(attempts, false, last), fmt.Errorf("waited %s for %s (%d attempts); last seen: %s", timeout, what, attempts, last)
}

// waitCondition reads which condition to wait for: the probe, and a
// description of the awaited state for messages.
func waitCondition(args cty.Value) (probe, string, error) {
	port, hasPort := argInt(args, "port")
	path := argString(args, "path")
	command := args.GetAttr("command")
	n := 0
	for _, given := range []bool{hasPort, path != "", !command.IsNull()} {
		if given {
			n++
		}
	}
	if n != 1 {
		return nil, "", errors.New("give exactly one of port, path and command")
	}
	state := argString(args, "state")
	contains := argString(args, "contains")
	if contains != "" && path == "" {
		return nil, "", errors.New("contains is only for path")
	}
	switch {
	case hasPort:
		if port < 1 || port > 65535 {
			return nil, "", fmt.Errorf("port %d is out of range", port)
		}
		addr := net.JoinHostPort(argString(args, "host"), strconv.FormatInt(port, 10))
		if state == "" {
			state = "started"
		}
		if state != "started" && state != "stopped" {
			return nil, "", fmt.Errorf("with port, state must be \"started\" or \"stopped\", not %q", state)
		}
		want := state == "started"
		return func(ctx context.Context) (bool, string) {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
			if err != nil {
				return !want, err.Error()
			}
			conn.Close()
			return want, addr + " accepts connections"
		}, fmt.Sprintf("port %s to be %s", addr, state), nil
	case path != "":
		if state == "" {
			state = "present"
		}
		if state != "present" && state != "absent" {
			return nil, "", fmt.Errorf("with path, state must be \"present\" or \"absent\", not %q", state)
		}
		if contains != "" && state == "absent" {
			return nil, "", errors.New("contains is only for state = \"present\"")
		}
		var re *regexp.Regexp
		if contains != "" {
			var err error
			if re, err = regexp.Compile(contains); err != nil {
				return nil, "", fmt.Errorf("contains: %v", err)
			}
		}
		return func(context.Context) (bool, string) {
			_, err := os.Stat(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return state == "absent", path + " does not exist"
			case err != nil:
				return false, err.Error()
			case state == "absent":
				return false, path + " exists"
			case re == nil:
				return true, path + " exists"
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return false, err.Error()
			}
			if re.Match(b) {
				return true, path + " matches " + contains
			}
			return false, path + " exists but does not match " + contains
		}, fmt.Sprintf("path %s to be %s", path, state), nil
	}
	if state != "" {
		return nil, "", errors.New("state is only for port and path")
	}
	argv, err := commandArgv(command)
	if err != nil {
		return nil, "", err
	}
	return func(ctx context.Context) (bool, string) {
		var out capture
		rc, err := (&process{argv: argv, stdout: &out, stderr: &out}).run(ctx)
		switch {
		case err != nil:
			return false, err.Error()
		case rc == 0:
			return true, "exit status 0"
		}
		seen := fmt.Sprintf("exit status %d", rc)
		if tail := lastLine(out.String()); tail != "" {
			seen += ": " + tail
		}
		return false, seen
	}, fmt.Sprintf("command %s to exit 0", argv[0]), nil
}
