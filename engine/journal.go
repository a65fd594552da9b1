package engine

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// JournalDir is where a plan's run journals live, under the plan's directory.
const JournalDir = ".chopplan/runs"

// NewRunID returns a run id that sorts by start time:
// 20261126T121500Z-3f9a (UTC, then random hex against two runs started in
// the same second).
func NewRunID(now time.Time) string {
	var b [2]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// JournalWriter is the Sink that keeps the run journal: each run_start,
// task and summary event appended to .chopplan/runs/<run-id>.ndjson as a
// line in the -output json shape, values masked.
//
// Event returns once its line is in the file, so when the journal comes
// first in the run's Sinks, anything a renderer has shown done survives
// the controller being killed. A goroutine makes the lines durable
// (fdatasync) at most every syncInterval, one sync covering every line
// written before it, so a run of short tasks does not wait on the disk
// once per task.
type JournalWriter struct {
	path    string
	r       *Redactor
	retryOf string

	mu      sync.Mutex // guards f's writes, written, err
	f       *os.File
	written uint64 // lines written
	err     error

	syncMu sync.Mutex // one sync at a time; guards synced
	synced uint64     // lines known on disk

	dir      string        // synced with the first lines: the new name must survive a crash too
	kick     chan struct{} // a line was written: sync soon
	stopSync chan struct{}
	syncDone chan struct{}
}

// syncInterval bounds how often the journal is synced to disk. A line is
// in the file (the kernel's) as soon as its task is done, so a killed
// controller loses nothing; a crash of the machine itself can lose at most
// the lines of the last interval. Syncing every line instead cost a
// quarter of the time of a run of short tasks on one host.
const syncInterval = 50 * time.Millisecond

var _ Sink = (*JournalWriter)(nil)

// OpenJournal creates the journal of run runID under planDir
// (planDir/.chopplan/runs/runID.ndjson, private to the user: results may
// name hosts and paths). retryOf, when not nil, is the journal this run
// retries (apply -retry-failed): the new journal names it, so the chain
// of retries reads as one run.
func OpenJournal(planDir, runID string, r *Redactor, retryOf *Journal) (*JournalWriter, error) {
	dir := filepath.Join(planDir, JournalDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("engine: journal: %w", err)
	}
	path := filepath.Join(dir, runID+".ndjson")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: journal: %w", err)
	}
	j := &JournalWriter{dir: dir, path: path, r: r, f: f, kick: make(chan struct{}, 1), stopSync: make(chan struct{}), syncDone: make(chan struct{})}
	if retryOf != nil {
		j.retryOf = retryOf.Run
	}
	go j.syncLoop()
	return j, nil
}

// syncLoop syncs the journal when lines were written, at most once per
// syncInterval.
func (j *JournalWriter) syncLoop() {
	defer close(j.syncDone)
	for {
		select {
		case <-j.kick:
		case <-j.stopSync:
			return
		}
		j.sync()
		select {
		case <-time.After(syncInterval):
		case <-j.stopSync:
			return
		}
	}
}

// Path is the journal file's path.
func (j *JournalWriter) Path() string { return j.path }

// Event appends e if it records progress: the line is in the file when
// Event returns, and on disk within syncInterval.
func (j *JournalWriter) Event(e Event) {
	switch e.Type {
	case EventRunStart, EventTask, EventSummary:
	default:
		return
	}
	retryOf := ""
	if e.Type == EventRunStart {
		retryOf = j.retryOf
	}
	line := encodeEvent(e, j.r, retryOf)

	j.mu.Lock()
	if j.f == nil || j.err != nil {
		j.mu.Unlock()
		return
	}
	if _, err := j.f.Write(line); err != nil {
		j.err = fmt.Errorf("engine: journal %s: %w", j.path, err)
		j.mu.Unlock()
		return
	}
	j.written++
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default: // a sync is already due
	}
}

// sync makes every line written so far durable.
func (j *JournalWriter) sync() {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.syncLocked()
}

// syncLocked is sync with syncMu held: the lines written since the last
// sync reach the disk (fdatasync: their data and the file's size), and
// the first time the directory entry too.
func (j *JournalWriter) syncLocked() {
	j.mu.Lock()
	upTo := j.written
	f := j.f
	j.mu.Unlock()
	if f == nil || j.synced >= upTo {
		return
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		j.mu.Lock()
		j.err = fmt.Errorf("engine: journal %s: sync: %w", j.path, err)
		j.mu.Unlock()
		return
	}
	if j.synced == 0 {
		// The file's name must survive a crash too, or its synced lines
		// are lost with it; done here, off the run's path.
		if d, err := os.Open(j.dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	j.synced = upTo
}

// Err is the first error writing the journal: a run goes on without its
// journal, and the command says so at the end.
func (j *JournalWriter) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Close syncs and closes the journal.
func (j *JournalWriter) Close() error {
	select {
	case <-j.stopSync:
	default:
		close(j.stopSync)
	}
	<-j.syncDone
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	// Only what no sync has covered yet: a second, full fsync after the
	// loop's fdatasync would cost the end of every run a metadata commit
	// (0.5-1.7 ms here) for the file's timestamps alone.
	j.syncLocked()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return j.err
	}
	if err := j.f.Close(); err != nil && j.err == nil {
		j.err = fmt.Errorf("engine: journal %s: %w", j.path, err)
	}
	j.f = nil
	return j.err
}

// Journal is a run journal read back: what became of each task on each
// host, as far as the run got.
type Journal struct {
	Path    string
	Run     string
	Check   bool
	Started time.Time
	Hosts   []string
	// Finished is true when the summary was written: the run ended rather
	// than being killed.
	Finished    bool
	Interrupted bool
	Recap       map[string]*HostRecap
	// RetryOf is the run this one retried, and Previous its journal when
	// it could be read.
	RetryOf  string
	Previous *Journal

	// records holds each (host, task, each)'s last status, in file order.
	records map[journalKey]Status
	// pending marks skipped tasks after a failure on the same host: they
	// were skipped because the host had dropped out, so a retry runs them.
	pending map[journalKey]bool
	// done is, per (host, task), whether all its instances are done.
	done map[HostTask]bool
}

type journalKey struct{ host, task, each string }

// HostTask names a task on a host.
type HostTask struct {
	Host, Task string
}

// maxRetryChain bounds how many journals of retries are read back.
const maxRetryChain = 100

// ReadJournal reads a journal file. A last line cut short by a killed
// controller is ignored: it was never synced, so nothing reported it done.
func ReadJournal(path string) (*Journal, error) {
	return readJournal(path, maxRetryChain)
}

func readJournal(path string, chain int) (*Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("engine: journal: %w", err)
	}
	j := &Journal{Path: path, records: map[journalKey]Status{}, pending: map[journalKey]bool{}}
	dropped := map[string]bool{} // hosts with a failure so far
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var je jsonEvent
		if err := json.Unmarshal(line, &je); err != nil {
			if !bytes.HasSuffix(data, []byte("\n")) && n == bytes.Count(data, []byte("\n"))+1 {
				break // the torn last line
			}
			return nil, fmt.Errorf("engine: journal %s:%d: %w", path, n, err)
		}
		e := je.Event
		switch e.Type {
		case EventRunStart:
			j.Run, j.Check, j.Started, j.Hosts, j.RetryOf = e.Run, e.Check, e.Time, e.Hosts, je.RetryOf
		case EventTask:
			k := journalKey{e.Host, e.Task, e.Each}
			j.records[k] = e.Status
			delete(j.pending, k)
			switch e.Status {
			case StatusFailed, StatusUnreachable:
				dropped[e.Host] = true
			case StatusSkipped:
				if dropped[e.Host] {
					j.pending[k] = true
				}
			}
		case EventSummary:
			j.Finished, j.Interrupted, j.Recap = true, e.Interrupted, e.Recap
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("engine: journal %s: %w", path, err)
	}
	j.done = make(map[HostTask]bool, len(j.records))
	for k, s := range j.records {
		ht := HostTask{k.host, k.task}
		d, seen := j.done[ht]
		j.done[ht] = (d || !seen) && isDone(s) && !j.pending[k]
	}
	if j.Run == "" {
		j.Run = strings.TrimSuffix(filepath.Base(path), ".ndjson")
	}
	if j.RetryOf != "" && chain > 0 {
		prev := filepath.Join(filepath.Dir(path), j.RetryOf+".ndjson")
		if p, err := readJournal(prev, chain-1); err == nil {
			j.Previous = p
		}
		// A missing earlier journal only means more runs again: Done
		// answers false for what it cannot see.
	}
	return j, nil
}

// LatestJournal reads the newest journal of an apply under planDir (check
// mode runs change nothing, so there is nothing in them to retry). The
// error wraps fs.ErrNotExist when there is none.
func LatestJournal(planDir string) (*Journal, error) {
	dir := filepath.Join(planDir, JournalDir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("engine: journal: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".ndjson") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		j, err := ReadJournal(filepath.Join(dir, names[i]))
		if err != nil {
			return nil, err
		}
		if !j.Check {
			return j, nil
		}
	}
	return nil, fmt.Errorf("engine: no journal of an apply in %s: %w", dir, fs.ErrNotExist)
}

// isDone says whether a status needs no retry.
func isDone(s Status) bool {
	return s == StatusOK || s == StatusChanged || s == StatusSkipped
}

// Done reports whether taskAddr (tasks.LIST.TASK) completed on host: every
// recorded instance of it (one per for_each key) is ok, changed or
// skipped, and none was skipped only because the host had dropped out
// after a failure. What this journal does not record, an earlier journal
// of the retry chain may: a retry runs only part of the plan.
func (j *Journal) Done(host, taskAddr string) bool {
	if d, seen := j.done[HostTask{host, taskAddr}]; seen {
		return d
	}
	return j.Previous != nil && j.Previous.Done(host, taskAddr)
}

// Pending lists the (host, task) pairs of hosts × tasks that are not Done:
// they failed, their host was unreachable, or they never ran. Pairs that
// do not exist in the plan (a list that is not on that host) are the
// caller's to leave out.
func (j *Journal) Pending(hosts, tasks []string) []HostTask {
	var out []HostTask
	for _, h := range hosts {
		for _, t := range tasks {
			if !j.Done(h, t) {
				out = append(out, HostTask{h, t})
			}
		}
	}
	return out
}

// Status is the last recorded status of taskAddr (with its for_each key,
// or "") on host, and whether there is one, looking back along the retry
// chain.
func (j *Journal) Status(host, taskAddr, each string) (Status, bool) {
	if s, ok := j.records[journalKey{host, taskAddr, each}]; ok {
		return s, true
	}
	if j.Previous != nil {
		return j.Previous.Status(host, taskAddr, each)
	}
	return "", false
}
