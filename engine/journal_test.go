package engine_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chopplan/chopplan/engine"
)

func writeJournal(t *testing.T, dir, run string, prev *engine.Journal, events []engine.Event) *engine.Journal {
	t.Helper()
	w, err := engine.OpenJournal(dir, run, redactor(), prev)
	if err != nil {
		t.Fatal(err)
	}
	feed(w, events)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	j, err := engine.ReadJournal(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJournal(t *testing.T) {
	dir := t.TempDir()
	j := writeJournal(t, dir, "20261126T121500Z-ab12", nil, sampleRun(false))
	if j.Run != "20261126T121500Z-ab12" || j.Check || !j.Finished || len(j.Hosts) != 2 || !j.Started.Equal(t0) {
		t.Errorf("journal header %+v", j)
	}
	if j.Recap["web22"].Failed != 1 {
		t.Errorf("recap %+v", j.Recap["web22"])
	}
	for _, c := range []struct {
		host, task string
		done       bool
	}{
		{"web1", "tasks.deploy.config", true},    // changed
		{"web1", "tasks.deploy.token", true},     // ok, for_each
		{"web1", "tasks.deploy.check", false},    // would run: nothing was done
		{"web22", "tasks.deploy.restart", false}, // failed
		{"web22", "tasks.deploy.check", false},   // skipped because web22 had dropped out
		{"web22", "tasks.deploy.config", false},  // never ran
		{"db1", "tasks.deploy.config", false},    // not in the run
	} {
		if got := j.Done(c.host, c.task); got != c.done {
			t.Errorf("Done(%s, %s) = %v, want %v", c.host, c.task, got, c.done)
		}
	}
	pending := j.Pending([]string{"web1", "web22"}, []string{"tasks.deploy.config", "tasks.deploy.restart"})
	want := []engine.HostTask{{"web22", "tasks.deploy.config"}, {"web22", "tasks.deploy.restart"}}
	if fmt.Sprint(pending) != fmt.Sprint(want) {
		t.Errorf("Pending = %v, want %v", pending, want)
	}
	if s, ok := j.Status("web1", "tasks.deploy.token", "a"); !ok || s != engine.StatusOK {
		t.Errorf("Status = %v %v", s, ok)
	}

	// A retry runs what was pending; its journal holds only that, and the
	// chain answers for the rest.
	retry := writeJournal(t, dir, "20261126T130000Z-cd34", j, []engine.Event{
		{Type: engine.EventRunStart, Run: "20261126T130000Z-cd34", Hosts: []string{"web22"}},
		{Type: engine.EventTask, Host: "web22", Task: "tasks.deploy.restart", Status: engine.StatusChanged},
		{Type: engine.EventTask, Host: "web22", Task: "tasks.deploy.check", Status: engine.StatusOK},
		{Type: engine.EventSummary},
	})
	if retry.RetryOf != j.Run || retry.Previous == nil {
		t.Fatalf("retry journal does not chain: RetryOf %q", retry.RetryOf)
	}
	for host, task := range map[string]string{"web22": "tasks.deploy.restart", "web1": "tasks.deploy.config"} {
		if !retry.Done(host, task) {
			t.Errorf("after the retry, Done(%s, %s) = false", host, task)
		}
	}
	if retry.Done("web22", "tasks.deploy.config") {
		t.Errorf("a task that never ran in either run is done")
	}

	// A check-mode run is newer but is not what -retry-failed retries.
	writeJournal(t, dir, "20261126T140000Z-ef56", nil, sampleRun(true))
	latest, err := engine.LatestJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Run != "20261126T130000Z-cd34" || latest.Previous == nil {
		t.Errorf("LatestJournal = %s", latest.Run)
	}
	if _, err := engine.LatestJournal(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LatestJournal of a plan that never ran: %v", err)
	}
}

func TestJournalTornLastLine(t *testing.T) {
	dir := t.TempDir()
	j := writeJournal(t, dir, "20261126T121500Z-ab12", nil, sampleRun(false)[:5])
	f, err := os.OpenFile(j.Path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"task","host":"web1","task":"tasks.deploy.restart","sta`)
	f.Close()
	j, err = engine.ReadJournal(j.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Done("web1", "tasks.deploy.config") || j.Done("web1", "tasks.deploy.restart") || j.Finished {
		t.Errorf("torn journal read wrong: %+v", j)
	}
}

func TestNewRunIDSortsByTime(t *testing.T) {
	a := engine.NewRunID(time.Date(2026, 11, 26, 12, 15, 0, 0, time.UTC))
	b := engine.NewRunID(time.Date(2026, 11, 26, 12, 15, 1, 0, time.FixedZone("x", 3600)).Add(time.Hour))
	if len(a) != len("20261126T121500Z-ab12") || a[:16] != "20261126T121500Z" || !(a < b) {
		t.Errorf("run ids %q, %q", a, b)
	}
}

const killChildEnv = "CHOPPLAN_TEST_JOURNAL_KILL"

// TestJournalSurvivesKill runs the test binary as a controller that
// journals tasks and is SIGKILLed in the middle of writing; every task it
// reported done before (on its stdout, as a renderer would) must be in the
// journal.
func TestJournalSurvivesKill(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		journalThenDie(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalSurvivesKill$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	var reported []int
	for _, line := range strings.Split(string(out), "\n") {
		if n, err := strconv.Atoi(line); err == nil {
			reported = append(reported, n)
		}
	}
	if len(reported) == 0 {
		t.Fatalf("child reported nothing:\n%s", out)
	}
	j, err := engine.LatestJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Finished {
		t.Errorf("a killed run's journal says it finished")
	}
	for _, i := range reported {
		host := fmt.Sprintf("h%d", i%4)
		if !j.Done(host, fmt.Sprintf("tasks.l.t%d", i)) {
			t.Errorf("task %d was reported done before the kill but is not in the journal", i)
		}
	}
}

// journalThenDie is the child: four hosts journal tasks concurrently, each
// printed once Event returns, and the process kills itself while others
// are still writing.
func journalThenDie(dir string) {
	w, err := engine.OpenJournal(dir, engine.NewRunID(time.Now()), nil, nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	w.Event(engine.Event{Type: engine.EventRunStart, Hosts: []string{"h0", "h1", "h2", "h3"}})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for h := range 4 {
		wg.Go(func() {
			for i := 1 + h; i <= 400; i += 4 {
				w.Event(engine.Event{Type: engine.EventTask, Host: fmt.Sprintf("h%d", i%4), Task: fmt.Sprintf("tasks.l.t%d", i), Status: engine.StatusOK})
				mu.Lock()
				fmt.Println(i) // reported done
				if i >= 200 {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// BenchmarkJournalTask is the cost of journaling one task event, synced,
// from one host at a time and from many at once (where syncs are shared).
func BenchmarkJournalTask(b *testing.B) {
	for _, hosts := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			w, err := engine.OpenJournal(b.TempDir(), engine.NewRunID(time.Now()), redactor(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			e := sampleRun(false)[2]
			b.SetParallelism(hosts)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w.Event(e)
				}
			})
		})
	}
}
