package engine_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
)

const secret = "hunter2-Sup3rS3cret"

var t0 = time.Date(2026, 11, 26, 12, 15, 0, 0, time.UTC)

// sampleRun is a run on two hosts as the scheduler reports it: a file
// change with a diff, a failure whose error holds the secret, live output
// that echoes it, a sensitive task result, a skipped task after the
// failure, and outputs of which one is sensitive.
func sampleRun(check bool) []engine.Event {
	sens := func(v cty.Value) cty.Value { return v.Mark(plan.Sensitive) }
	diff := cty.ObjectVal(map[string]cty.Value{
		"before":  cty.MapVal(map[string]cty.Value{"mode": cty.StringVal("0644")}),
		"after":   cty.MapVal(map[string]cty.Value{"mode": cty.StringVal("0600")}),
		"content": cty.StringVal("--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1 +1 @@\n-password = old\n+password = " + secret + "\n"),
	})
	run := "20261126T121500Z-ab12"
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return []engine.Event{
		{Type: engine.EventRunStart, Time: at(0), Run: run, Hosts: []string{"web1", "web22"}, Check: check},
		{Type: engine.EventListStart, Time: at(1), Run: run, List: "tasks.deploy", Hosts: []string{"web1", "web22"}},
		{Type: engine.EventTask, Time: at(5), Run: run, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.config",
			Status: engine.StatusChanged, DurMS: 12, Tries: 1, Diff: diff,
			Result: cty.ObjectVal(map[string]cty.Value{"changed": cty.True, "path": cty.StringVal("/etc/app.conf"), "diff": diff})},
		{Type: engine.EventOutput, Time: at(6), Run: run, Host: "web22", Task: "tasks.deploy.restart", Stream: 2,
			Line: "login with " + secret + " refused"},
		{Type: engine.EventTask, Time: at(7), Run: run, Host: "web22", List: "tasks.deploy", Task: "tasks.deploy.restart",
			Status: engine.StatusFailed, DurMS: 1500, Tries: 3,
			Error:  "exec: exit status 1\nmysql: access denied for password " + secret,
			Result: cty.ObjectVal(map[string]cty.Value{"rc": cty.NumberIntVal(1), "stdout": cty.StringVal("using " + secret)})},
		{Type: engine.EventTask, Time: at(8), Run: run, Host: "web22", List: "tasks.deploy", Task: "tasks.deploy.check",
			Status: engine.StatusSkipped},
		{Type: engine.EventTask, Time: at(9), Run: run, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.token",
			Status: engine.StatusOK, DurMS: 0.4, Each: "a",
			Result: sens(cty.ObjectVal(map[string]cty.Value{"token": cty.StringVal(secret)}))},
		{Type: engine.EventTask, Time: at(10), Run: run, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.restart",
			Status: engine.StatusOK, DurMS: 2},
		{Type: engine.EventTask, Time: at(11), Run: run, Host: "web1", List: "tasks.deploy", Task: "tasks.deploy.check",
			Status: engine.StatusWouldRun},
		{Type: engine.EventSummary, Time: at(12), Run: run,
			Recap: map[string]*engine.HostRecap{
				"web1":  {OK: 2, Changed: 1, WouldRun: 1},
				"web22": {Failed: 1, Skipped: 1},
			},
			Outputs: map[string]cty.Value{
				"kernel":   cty.MapVal(map[string]cty.Value{"web1": cty.StringVal("6.1.0")}),
				"password": sens(cty.StringVal(secret)),
			}},
	}
}

// redactor knows the secret the way a run learns it: from a sensitive
// variable.
func redactor() *engine.Redactor {
	r := engine.NewRedactor()
	r.Add(cty.ObjectVal(map[string]cty.Value{
		"release":     cty.StringVal("1.2"),
		"db_password": cty.StringVal(secret).Mark(plan.Sensitive),
	}))
	return r
}

func feed(s engine.Sink, events []engine.Event) {
	for _, e := range events {
		s.Event(e)
	}
}

func TestLineRenderer(t *testing.T) {
	var out bytes.Buffer
	feed(engine.NewLineRenderer(&out, redactor(), engine.LineOptions{}), sampleRun(true))
	want := `Planning (check mode: nothing changes) on 2 hosts, run 20261126T121500Z-ab12
tasks.deploy: web1, web22
web1  | tasks.deploy.config: changed (12ms)
web1  |   mode: "0644" -> "0600"
web1  |   --- /etc/app.conf
web1  |   +++ /etc/app.conf
web1  |   @@ -1 +1 @@
web1  |   -password = old
web1  |   +password = (sensitive value)
web22 | login with (sensitive value) refused
web22 | tasks.deploy.restart: failed (1.5s, 3 tries): exec: exit status 1
web22 |   mysql: access denied for password (sensitive value)
web22 | tasks.deploy.check: skipped
web1  | tasks.deploy.token["a"]: ok (0.4ms)
web1  | tasks.deploy.restart: ok (2ms)
web1  | tasks.deploy.check: would run

Recap:
host   ok  changed  failed  skipped  unreachable  would run
web1    2        1       0        0            0          1
web22   0        0       1        1            0          0

Outputs:

kernel = {
  web1 = "6.1.0"
}
password = (sensitive value)
`
	if got := out.String(); got != want {
		t.Errorf("lines output:\n%s\nwant:\n%s", got, want)
	}
}

func TestLineRendererDiffOnlyWhenAsked(t *testing.T) {
	var out bytes.Buffer
	feed(engine.NewLineRenderer(&out, redactor(), engine.LineOptions{}), sampleRun(false))
	if strings.Contains(out.String(), "@@") {
		t.Errorf("apply without -diff printed a diff:\n%s", out.String())
	}
	out.Reset()
	feed(engine.NewLineRenderer(&out, redactor(), engine.LineOptions{Diff: true}), sampleRun(false))
	if !strings.Contains(out.String(), "web1  |   -password = old\n") {
		t.Errorf("apply -diff printed no diff:\n%s", out.String())
	}
}

func TestLineRendererInterleavesWholeLines(t *testing.T) {
	var out bytes.Buffer
	l := engine.NewLineRenderer(&out, nil, engine.LineOptions{})
	l.Event(engine.Event{Type: engine.EventRunStart, Hosts: []string{"h0", "h1", "h2", "h3"}})
	var wg sync.WaitGroup
	for h := range 4 {
		wg.Go(func() {
			host := []string{"h0", "h1", "h2", "h3"}[h]
			for i := range 200 {
				l.Event(engine.Event{Type: engine.EventOutput, Host: host, Line: strings.Repeat(host, 50) + string(rune('a'+i%26))})
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:]
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		host, text, ok := strings.Cut(l, " | ")
		if !ok || !strings.HasPrefix(text, strings.Repeat(host, 50)) {
			t.Fatalf("garbled line %q", l)
		}
	}
}

// A host's output and errors are shown, not obeyed: a CR cannot make a
// line look like another host's, an escape sequence cannot command the
// terminal; colours pass.
func TestLineRendererShowsControlCharacters(t *testing.T) {
	var out bytes.Buffer
	l := engine.NewLineRenderer(&out, nil, engine.LineOptions{})
	l.Event(engine.Event{Type: engine.EventOutput, Host: "web1", Line: "\rweb2 | ok \x1b]52;c;Zm9v\x07 \x1b[32mgreen\x1b[0m\r\n"})
	l.Event(engine.Event{Type: engine.EventTask, Host: "web1", Task: "tasks.t.x", Status: engine.StatusFailed, Error: "boom\x1b[2J"})
	want := "web1 | ^Mweb2 | ok ^[]52;c;Zm9v^G \x1b[32mgreen\x1b[0m\n"
	if got := out.String(); !strings.HasPrefix(got, want) || !strings.Contains(got, "boom^[[2J") {
		t.Fatalf("rendered %q, want it to begin %q and show the error's escape", got, want)
	}
	// A file's diff, from the host, likewise.
	out.Reset()
	l = engine.NewLineRenderer(&out, nil, engine.LineOptions{Diff: true})
	diff := cty.ObjectVal(map[string]cty.Value{
		"before":  cty.MapValEmpty(cty.String),
		"after":   cty.MapValEmpty(cty.String),
		"content": cty.StringVal("--- a\n+++ b\n+\x1b]52;c;Zm9v\x07\x1b[2J\u202e\n-dos\r\n+dos\n"),
	})
	l.Event(engine.Event{Type: engine.EventTask, Host: "web1", Task: "tasks.t.f", Status: engine.StatusChanged, Diff: diff})
	// A diff of line endings stays visible.
	if got := out.String(); !strings.Contains(got, "+^[]52;c;Zm9v^G^[[2J\ufffd") || !strings.Contains(got, "-dos^M\n") {
		t.Fatalf("diff rendered %q", got)
	}
}

func TestJSONRenderer(t *testing.T) {
	var out bytes.Buffer
	feed(engine.NewJSONRenderer(&out, redactor()), sampleRun(true))
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		events = append(events, m)
	}
	if len(events) != len(sampleRun(true)) {
		t.Fatalf("%d JSON lines for %d events", len(events), len(sampleRun(true)))
	}
	first := events[2]
	for k, want := range map[string]any{
		"type": "task", "host": "web1", "task": "tasks.deploy.config", "list": "tasks.deploy",
		"status": "changed", "duration_ms": 12.0, "time": "2026-11-26T12:15:00.005Z",
	} {
		if first[k] != want {
			t.Errorf("task event %s = %#v, want %#v", k, first[k], want)
		}
	}
	if r, _ := first["result"].(map[string]any); r["path"] != "/etc/app.conf" || r["changed"] != true {
		t.Errorf("result = %#v", first["result"])
	}
	if d, _ := first["diff"].(map[string]any); d["after"].(map[string]any)["mode"] != "0600" {
		t.Errorf("diff = %#v", first["diff"])
	}
	if r, _ := events[4]["result"].(map[string]any); r["rc"] != 1.0 || r["stdout"] != "using (sensitive value)" {
		t.Errorf("failed task's result = %#v", events[4]["result"])
	}
	if events[5]["duration_ms"] != 0.0 {
		t.Errorf("a task event without a duration has duration_ms %#v, want 0", events[5]["duration_ms"])
	}
	if events[6]["result"] != plan.Redacted || events[6]["each"] != "a" {
		t.Errorf("sensitive result = %#v (each %#v)", events[6]["result"], events[6]["each"])
	}
	sum := events[len(events)-1]
	if sum["type"] != "summary" {
		t.Fatalf("last event is %v, want summary", sum["type"])
	}
	recap := sum["recap"].(map[string]any)["web22"].(map[string]any)
	if recap["failed"] != 1.0 || recap["skipped"] != 1.0 || recap["ok"] != 0.0 {
		t.Errorf("recap web22 = %#v", recap)
	}
	outputs := sum["outputs"].(map[string]any)
	if pw := outputs["password"].(map[string]any); pw["sensitive"] != true || pw["value"] != plan.Redacted {
		t.Errorf("sensitive output = %#v", pw)
	}
	if k := outputs["kernel"].(map[string]any); k["sensitive"] != false || k["value"].(map[string]any)["web1"] != "6.1.0" {
		t.Errorf("output = %#v", k)
	}
}

func TestJSONRendererUnknownValues(t *testing.T) {
	var out bytes.Buffer
	engine.NewJSONRenderer(&out, nil).Event(engine.Event{Type: engine.EventTask, Host: "h", Task: "tasks.a.b",
		Status: engine.StatusChanged,
		Result: cty.ObjectVal(map[string]cty.Value{"n": cty.UnknownVal(cty.Number), "l": cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)})})})
	var m struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err, out.String())
	}
	if m.Result["n"] != engine.KnownAfterApply || m.Result["l"].([]any)[0] != engine.KnownAfterApply {
		t.Errorf("unknowns = %#v", m.Result)
	}
}

// junitDoc is what a CI system reads of the report.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the report is not well-formed XML: %v\n%s", err, data)
	}
	return doc
}

func TestJUnitWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports", "junit.xml")
	events := sampleRun(false)
	// An unreachable host and a line with a control character an XML
	// file cannot hold.
	events = append(events[:len(events)-1:len(events)-1],
		engine.Event{Type: engine.EventOutput, Host: "web1", Task: "tasks.deploy.restart", Line: "\x1b[31mred\x1b[0m"},
		engine.Event{Type: engine.EventTask, Host: "db1", Task: "tasks.deploy.config", Status: engine.StatusUnreachable, Error: "ssh: connection refused"},
		events[len(events)-1])
	w := engine.NewJUnitWriter(path, redactor())
	feed(w, events)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	doc := readJUnit(t, path)
	if doc.Tests != 7 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 2 {
		t.Errorf("totals tests=%d failures=%d errors=%d skipped=%d, want 7 1 1 2", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	if len(doc.Suites) != 3 || doc.Suites[0].Name != "web1" || doc.Suites[1].Name != "web22" || doc.Suites[2].Name != "db1" {
		t.Fatalf("suites %+v", doc.Suites)
	}
	web22 := doc.Suites[1]
	f := web22.Cases[0].Failure
	if web22.Cases[0].Name != "tasks.deploy.restart" || web22.Cases[0].Classname != "web22" || f == nil {
		t.Fatalf("web22's first case %+v", web22.Cases[0])
	}
	if f.Message != "exec: exit status 1" || !strings.Contains(f.Text, "access denied for password (sensitive value)") {
		t.Errorf("failure %+v", f)
	}
	if web22.Cases[0].Time != "1.500" || web22.Cases[0].SystemOut != "login with (sensitive value) refused\n" {
		t.Errorf("time %q, system-out %q", web22.Cases[0].Time, web22.Cases[0].SystemOut)
	}
	if web22.Cases[1].Skipped == nil {
		t.Errorf("skipped task has no skipped element: %+v", web22.Cases[1])
	}
	if c := doc.Suites[0].Cases[1]; c.Name != `tasks.deploy.token["a"]` {
		t.Errorf("for_each case named %q", c.Name)
	}
	if c := doc.Suites[2].Cases[0]; c.Error == nil || c.Error.Message != "ssh: connection refused" {
		t.Errorf("unreachable case %+v", c)
	}
}

// TestSecretsNeverAppear runs every renderer over a run where a secret
// comes as a sensitive variable, a sensitive task argument and result, in
// an error message, a line of live output, a diff and an output, and
// searches everything they wrote.
func TestSecretsNeverAppear(t *testing.T) {
	dir := t.TempDir()
	r := engine.NewRedactor()
	// The variable reaches the redactor; the task argument's secret is a
	// second one, only ever seen as a marked argument.
	r.Add(cty.StringVal(secret).Mark(plan.Sensitive))
	argSecret := "tok-9f8e7d6c5b4a"
	r.Add(cty.ObjectVal(map[string]cty.Value{
		"url":   cty.StringVal("https://example.invalid"),
		"token": cty.StringVal(argSecret).Mark(plan.Sensitive),
	}))
	events := sampleRun(true)
	events = append(events[:len(events)-1:len(events)-1],
		engine.Event{Type: engine.EventOutput, Host: "web1", Task: "tasks.deploy.fetch", Line: "curl -H 'Authorization: " + argSecret + "'"},
		engine.Event{Type: engine.EventTask, Host: "web1", Task: "tasks.deploy.fetch", Status: engine.StatusFailed,
			Error: "get: 401 for token " + argSecret, Diff: cty.StringVal(argSecret).Mark(plan.Sensitive)},
		events[len(events)-1])

	var lines, colored, js bytes.Buffer
	junit := engine.NewJUnitWriter(filepath.Join(dir, "junit.xml"), r)
	journal, err := engine.OpenJournal(dir, "20261126T121500Z-ab12", r, nil)
	if err != nil {
		t.Fatal(err)
	}
	feed(engine.Sinks{
		journal,
		engine.NewLineRenderer(&lines, r, engine.LineOptions{Diff: true}),
		engine.NewLineRenderer(&colored, r, engine.LineOptions{Diff: true, Color: true}),
		engine.NewJSONRenderer(&js, r),
		junit,
	}, events)
	if err := junit.Close(); err != nil {
		t.Fatal(err)
	}
	if err := journal.Close(); err != nil {
		t.Fatal(err)
	}
	junitXML, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	journalText, _ := os.ReadFile(journal.Path())
	for name, text := range map[string]string{
		"lines": lines.String(), "colored lines": colored.String(), "JSON": js.String(),
		"JUnit": string(junitXML), "journal": string(journalText),
	} {
		if !strings.Contains(text, plan.Redacted) {
			t.Errorf("%s output masked nothing: is it empty?\n%s", name, text)
		}
		for _, s := range []string{secret, argSecret} {
			if strings.Contains(text, s) {
				t.Errorf("%s output holds the secret %q:\n%s", name, s, text)
			}
		}
	}
}

func TestRedactor(t *testing.T) {
	r := engine.NewRedactor()
	if got := r.String("nothing known yet"); got != "nothing known yet" {
		t.Errorf("empty redactor changed text: %q", got)
	}
	key := "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\nZZZZ\n-----END KEY-----\n"
	r.Add(cty.ObjectVal(map[string]cty.Value{
		"plain":  cty.StringVal("visible"),
		"pw":     cty.StringVal("abc").Mark(plan.Sensitive),
		"pwlong": cty.StringVal("abcdef").Mark(plan.Sensitive),
		"creds": cty.ObjectVal(map[string]cty.Value{
			"user": cty.StringVal("admin"), "pin": cty.StringVal("42"), "n": cty.NumberIntVal(12345),
		}).Mark(plan.Sensitive),
		"key": cty.StringVal(key).Mark(plan.Sensitive),
	}))
	r.AddString("sudo-pass")
	r.AddString("")
	for in, want := range map[string]string{
		"visible stays":        "visible stays",
		"abcdef and abc":       "(sensitive value) and (sensitive value)",
		"user admin, pin 42":   "user (sensitive value), pin 42",
		"line AAAAB3NzaC1yc2E": "line (sensitive value)",
		"ZZZZ":                 "(sensitive value)",
		"sudo: sudo-pass":      "sudo: (sensitive value)",
		"12345":                "12345",
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}

	v := r.Value(cty.ObjectVal(map[string]cty.Value{
		"out":  cty.ListVal([]cty.Value{cty.StringVal("pw is abc"), cty.StringVal("fine")}),
		"pw":   cty.StringVal("x").Mark(plan.Sensitive),
		"m":    cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}),
		"next": cty.UnknownVal(cty.String),
	}))
	want := cty.ObjectVal(map[string]cty.Value{
		"out":  cty.ListVal([]cty.Value{cty.StringVal("pw is (sensitive value)"), cty.StringVal("fine")}),
		"pw":   cty.StringVal(plan.Redacted),
		"m":    cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}),
		"next": cty.StringVal(engine.KnownAfterApply),
	})
	if !v.RawEquals(want) {
		t.Errorf("Value = %#v\nwant %#v", v, want)
	}
	if got := engine.MaskValue(cty.StringVal("abc")); !got.RawEquals(cty.StringVal("abc")) {
		t.Errorf("MaskValue changed an unmarked string: %#v", got)
	}
}

func TestRedactorConcurrent(t *testing.T) {
	r := engine.NewRedactor()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				r.AddString(strings.Repeat("s", 3+i) + string(rune('a'+j%26)))
				r.String("some line with sssa in it")
			}
		})
	}
	wg.Wait()
	if got := r.String("x sssa y"); got != "x (sensitive value) y" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkRedactorString(b *testing.B) {
	r := engine.NewRedactor()
	for i := range 50 {
		r.AddString("secret-value-" + strings.Repeat("x", i))
	}
	line := "2026-11-26 12:15:00 INFO app: request handled in 12ms for user 42 from 10.0.0.1"
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		r.String(line)
	}
}
