package engine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/tunnel"
)

// Defaults for Options.
const (
	DefaultForks        = 256 // hosts running tasks at once
	DefaultConnectLimit = 32  // connection set-ups in flight
)

// Options tune a run of a plan.
type Options struct {
	// Check runs every task in check mode (chopplan plan): nothing changes.
	Check bool
	// Forks bounds the hosts running tasks at once (DefaultForks when 0).
	Forks int
	// ConnectLimit bounds connection set-ups in flight (DefaultConnectLimit).
	ConnectLimit int
	// Limit keeps only hosts whose name matches one of these patterns
	// (path.Match syntax: web*, db[12]).
	Limit []string
	// Targets keeps only these task lists (tasks.NAME) and those they depend on.
	Targets []string
	// Tags keeps only task lists with one of these tags.
	Tags []string
	// Timeout bounds the whole run (0: none).
	Timeout time.Duration
	// Stop, when closed, stops starting new tasks; running ones finish
	// (the first Ctrl-C). Cancelling Run's context cancels them too.
	Stop <-chan struct{}
	// Done, when set, says which (host, task) pairs already completed in
	// an earlier run: they are not run again (apply -retry-failed).
	Done func(host, task string) bool
	// Sink receives the run's events.
	Sink Sink
	// Sensitive, when set, is told every sensitive value the run meets
	// (task arguments, results of sensitive tasks), for masking.
	Sensitive func(cty.Value)
	// RunID names the run in its events.
	RunID string
	// Tunnel is the base options of every tunnel (Output is replaced: the
	// agents' stderr becomes output events).
	Tunnel tunnel.Options
	// NewKind, when set, makes the tunnel kind of a plan's tunnel instead
	// of the built-in mapping (a program with kinds of its own, or tests
	// of the scheduler over in-process agents). Nil results fall back.
	NewKind func(*plan.Tunnel) (tunnel.Kind, error)
}

// Result is what a run did.
type Result struct {
	Recap       map[string]*HostRecap
	Outputs     map[string]cty.Value
	Results     plan.Results
	Interrupted bool
	// OutputDiags says why outputs could not be evaluated (then Outputs is
	// empty).
	OutputDiags hcl.Diagnostics
}

// Failed reports whether a task failed on some host; Unreachable whether
// a host could not be reached.
func (r *Result) Failed() bool { return r.count(func(h *HostRecap) int { return h.Failed }) > 0 }
func (r *Result) Unreachable() bool {
	return r.count(func(h *HostRecap) int { return h.Unreachable }) > 0
}

// Changed reports whether anything changed (or would, in check mode).
func (r *Result) Changed() bool {
	return r.count(func(h *HostRecap) int { return h.Changed + h.WouldRun }) > 0
}

func (r *Result) count(f func(*HostRecap) int) int {
	n := 0
	for _, h := range r.Recap {
		n += f(h)
	}
	return n
}

// Run compiles cfg into per-host queues and runs them: each host goes
// through its task lists in plan order as fast as it can, waiting for
// other hosts only where the plan says (depends_on, a reference to
// another list's results, batch). It returns an error only when the run
// could not start; what happened on hosts is in the Result and the events.
func Run(ctx context.Context, cfg *plan.Config, opts Options) (*Result, error) {
	r, err := newRunner(cfg, opts)
	if err != nil {
		return nil, err
	}
	return r.run(ctx)
}

type runner struct {
	cfg   *plan.Config
	opts  Options
	lists []*listRun
	hosts map[string]*hostRun
	order []string // host names in plan order
	forks chan struct{}
	conns chan struct{}

	// needFacts: a group's where or a task reads host.facts, so facts are
	// gathered while connecting (one more round trip per host otherwise saved).
	needFacts bool

	// stopCtx ends when Options.Stop is closed: it withdraws queued calls.
	stopCtx context.Context

	mu      sync.RWMutex // guards results and recap
	results plan.Results
	recap   map[string]*HostRecap
}

// hostRun is one host's state in a run.
type hostRun struct {
	plan    *plan.Tunnel
	tun     *tunnel.Tunnel
	facts   cty.Value
	value   cty.Value // host.* for expressions, built once facts are in
	lists   []*listRun
	dropped Status // "" while the host goes on; failed or unreachable once it has dropped out
	dropMsg string

	// The list running on the host, the index of its task running, and
	// the next task's call when it was sent early (queued.go).
	list    *plan.TaskList
	pos     int
	listCtx context.Context
	queued  *queuedCall
	// draining, while a list ends early, is why: the call already sent
	// for the next task is waited for and recorded, and nothing more is
	// sent. drainAfterFailure: the task before it failed (so the agent
	// did not start it, whatever else befalls the host).
	draining          string
	drainAfterFailure bool
	// taskStart is when the task running on the host started, for its
	// reported duration.
	taskStart time.Time
}

// listRun is one task list's state: its hosts in batches, its barrier.
type listRun struct {
	list    *plan.TaskList
	deps    []*listRun
	hosts   []string
	batches [][]string
	started []chan struct{} // batch i may start once started[i] is closed
	done    chan struct{}   // closed when every host has finished the list
	// announced says each batch's list_start once, when its first host
	// begins.
	announced []sync.Once

	mu       sync.Mutex
	pending  []int // hosts of each batch still running
	failures int
	aborted  bool // the failure budget was exceeded: later batches do not run
}

func newRunner(cfg *plan.Config, opts Options) (*runner, error) {
	if opts.Forks <= 0 {
		opts.Forks = DefaultForks
	}
	if opts.ConnectLimit <= 0 {
		opts.ConnectLimit = DefaultConnectLimit
	}
	if opts.Sink == nil {
		opts.Sink = SinkFunc(func(Event) {})
	}
	if opts.Sensitive == nil {
		opts.Sensitive = func(cty.Value) {}
	}
	r := &runner{
		cfg: cfg, opts: opts, hosts: map[string]*hostRun{},
		forks: make(chan struct{}, opts.Forks), conns: make(chan struct{}, opts.ConnectLimit),
		results: plan.Results{}, recap: map[string]*HostRecap{}, needFacts: cfg.ReadsFacts(),
	}
	selected, err := r.selectLists()
	if err != nil {
		return nil, err
	}
	byAddr := map[string]*listRun{}
	for _, l := range cfg.TaskLists {
		if !selected[l.Addr] {
			continue
		}
		lr := &listRun{list: l, done: make(chan struct{})}
		for _, d := range l.DependsOn {
			if dep := byAddr[d]; dep != nil {
				lr.deps = append(lr.deps, dep)
			}
		}
		byAddr[l.Addr] = lr
		r.lists = append(r.lists, lr)
		for _, h := range l.On {
			if !r.limited(h.Name) {
				continue
			}
			if _, ok := r.hosts[h.Name]; !ok {
				r.hosts[h.Name] = &hostRun{plan: h}
				r.order = append(r.order, h.Name)
			}
		}
	}
	// Tunnel arguments may hold secrets (sudo_password, passphrase) that
	// would otherwise only be masked as values, not in error text.
	for _, t := range cfg.Tunnels {
		opts.Sensitive(t.Args)
	}
	var hosts []*plan.Tunnel
	for _, name := range r.order {
		hosts = append(hosts, r.hosts[name].plan)
		r.recap[name] = &HostRecap{}
	}
	tunnels, err := openTunnels(hosts, opts.NewKind, func(name string) tunnel.Options {
		o := opts.Tunnel
		o.Output = &agentStderr{r: r, host: name}
		return o
	})
	if err != nil {
		return nil, err
	}
	for name, h := range r.hosts {
		h.tun = tunnels[name]
	}
	return r, nil
}

// selectLists applies -target (with what the targets depend on) and -tags.
func (r *runner) selectLists() (map[string]bool, error) {
	sel := map[string]bool{}
	if len(r.opts.Targets) == 0 {
		for _, l := range r.cfg.TaskLists {
			sel[l.Addr] = true
		}
	} else {
		var add func(addr string) error
		add = func(addr string) error {
			l := r.cfg.TaskList(addr)
			if l == nil {
				return fmt.Errorf("engine: -target %s: no such task list", addr)
			}
			if sel[addr] {
				return nil
			}
			sel[addr] = true
			for _, d := range l.DependsOn {
				if err := add(d); err != nil {
					return err
				}
			}
			return nil
		}
		for _, t := range r.opts.Targets {
			if err := add(strings.TrimSpace(t)); err != nil {
				return nil, err
			}
		}
	}
	if len(r.opts.Tags) > 0 {
		for _, l := range r.cfg.TaskLists {
			if sel[l.Addr] && !hasAny(l.Tags, r.opts.Tags) {
				delete(sel, l.Addr)
			}
		}
	}
	return sel, nil
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func (r *runner) limited(host string) bool {
	if len(r.opts.Limit) == 0 {
		return true
	}
	for _, p := range r.opts.Limit {
		if ok, _ := path.Match(p, host); ok || p == host {
			return true
		}
	}
	return false
}

func (r *runner) emit(e Event) {
	e.Time = time.Now()
	e.Run = r.opts.RunID
	r.opts.Sink.Event(e)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	if r.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.opts.Timeout)
		defer cancel()
	}
	defer r.closeTunnels()
	stopCtx, unstop := context.WithCancel(context.Background())
	defer unstop()
	r.stopCtx = stopCtx
	if r.opts.Stop != nil {
		go func() {
			select {
			case <-r.opts.Stop:
				unstop()
			case <-stopCtx.Done():
			}
		}()
	}
	r.emit(Event{Type: EventRunStart, Hosts: append([]string(nil), r.order...), Check: r.opts.Check})

	// Hash the local files the run will put while it connects: comparing
	// them with the targets' copies then costs no more than the targets'
	// own hashing.
	r.prehashSources()
	// Connect and gather facts everywhere first: a group's where needs
	// every host's facts, and an unreachable host is known at once.
	r.connectAll(ctx)
	if err := r.placeHosts(); err != nil {
		return nil, err
	}

	var wg sync.WaitGroup
	for _, name := range r.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runHost(ctx, r.hosts[name])
		}()
	}
	wg.Wait()

	res := &Result{Recap: r.recap, Results: r.results, Interrupted: r.stopped() || ctx.Err() != nil}
	if !r.opts.Check {
		outs, diags := r.cfg.EvalOutputs(r.results)
		if diags.HasErrors() {
			res.Outputs = map[string]cty.Value{}
			res.OutputDiags = diags
		} else {
			res.Outputs = outs
		}
	}
	r.emit(Event{Type: EventSummary, Recap: r.recap, Outputs: res.Outputs, Interrupted: res.Interrupted})
	return res, nil
}

func (r *runner) closeTunnels() {
	var wg sync.WaitGroup
	for _, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.tun.Close()
		}()
	}
	wg.Wait()
}

func (r *runner) stopped() bool {
	if r.opts.Stop == nil {
		return false
	}
	select {
	case <-r.opts.Stop:
		return true
	default:
		return false
	}
}

// prehashSources starts hashing the src of every put task whose src is
// the same on every host (known without a host's facts or results).
func (r *runner) prehashSources() {
	for _, lr := range r.lists {
		for _, t := range lr.list.Tasks {
			expr := t.Args["src"]
			if t.Builtin != "put" || expr == nil {
				continue
			}
			v, diags := expr.Value(r.cfg.TaskEvalContext(t, plan.HostEval{}))
			v, _ = v.UnmarkDeep()
			if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
				continue
			}
			src := v.AsString()
			if !filepath.IsAbs(src) {
				src = filepath.Join(r.cfg.Dir, src)
			}
			tunnel.PrehashLocal(src)
		}
	}
}

// connectAll starts every host's agent and, when the plan reads them,
// its facts, at most ConnectLimit at a time. A host that cannot be
// reached drops out.
func (r *runner) connectAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range r.order {
		h := r.hosts[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case r.conns <- struct{}{}:
			case <-ctx.Done():
				h.drop(StatusUnreachable, ctx.Err().Error())
				return
			}
			defer func() { <-r.conns }()
			if !r.needFacts {
				if err := h.tun.Connect(ctx); err != nil {
					h.drop(StatusUnreachable, err.Error())
				}
				h.value = plan.HostValue(h.plan, cty.NilVal)
				return
			}
			facts, err := h.tun.Call(ctx, "facts", nil)
			if err != nil {
				h.drop(StatusUnreachable, err.Error())
				return
			}
			h.facts = facts
			h.value = plan.HostValue(h.plan, facts)
		}()
	}
	wg.Wait()
}

func (h *hostRun) drop(s Status, msg string) {
	if h.dropped == "" {
		h.dropped, h.dropMsg = s, msg
	}
}

// placeHosts decides each list's hosts (a group's where needs facts) and
// cuts them into batches.
func (r *runner) placeHosts() error {
	facts := map[string]cty.Value{}
	for name, h := range r.hosts {
		if h.facts != cty.NilVal {
			facts[name] = h.facts
		}
	}
	placed, diags := r.cfg.ResolveHosts(facts)
	if diags.HasErrors() {
		return fmt.Errorf("engine: deciding the hosts of filtered groups: %s", diags.Error())
	}
	for _, lr := range r.lists {
		on := lr.list.On
		if p, ok := placed[lr.list]; ok {
			on = p
		}
		for _, t := range on {
			if h := r.hosts[t.Name]; h != nil {
				lr.hosts = append(lr.hosts, t.Name)
				h.lists = append(h.lists, lr)
			}
		}
		lr.batches = batches(lr.hosts, lr.list.Batch)
		lr.announced = make([]sync.Once, len(lr.batches))
		for i, b := range lr.batches {
			lr.started = append(lr.started, make(chan struct{}))
			lr.pending = append(lr.pending, len(b))
			if i == 0 {
				close(lr.started[0])
			}
		}
		if len(lr.hosts) == 0 {
			close(lr.done)
		}
	}
	return nil
}

// batches cuts hosts into rolling batches: sizes from the list, the last
// size repeating; every host at once when there are none.
func batches(hosts []string, sizes []plan.BatchSize) [][]string {
	if len(sizes) == 0 {
		if len(hosts) == 0 {
			return nil
		}
		return [][]string{hosts}
	}
	var out [][]string
	for i := 0; len(hosts) > 0; i++ {
		n := sizes[min(i, len(sizes)-1)].Hosts(len(hosts) + countHosts(out))
		n = min(n, len(hosts))
		out = append(out, hosts[:n])
		hosts = hosts[n:]
	}
	return out
}

func countHosts(b [][]string) int {
	n := 0
	for _, x := range b {
		n += len(x)
	}
	return n
}

// batchOf returns the index of host's batch in the list.
func (lr *listRun) batchOf(host string) int {
	for i, b := range lr.batches {
		for _, h := range b {
			if h == host {
				return i
			}
		}
	}
	return -1
}

// finish records that host is done with the list. When the last host of a
// batch finishes, the failure budget decides whether the next starts.
func (lr *listRun) finish(batch int, failed bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if failed {
		lr.failures++
	}
	lr.pending[batch]--
	if lr.pending[batch] > 0 {
		return
	}
	if lr.overBudget() {
		lr.aborted = true
	}
	if batch+1 < len(lr.batches) {
		close(lr.started[batch+1])
		return
	}
	close(lr.done)
}

// overBudget reports whether the list's failures exceed max_failures or
// max_fail_percentage. Without either, failed hosts drop out and the
// others go on.
func (lr *listRun) overBudget() bool {
	l := lr.list
	if l.MaxFailures != nil && lr.failures > *l.MaxFailures {
		return true
	}
	if l.MaxFailPercentage != nil && len(lr.hosts) > 0 &&
		float64(lr.failures)*100/float64(len(lr.hosts)) > *l.MaxFailPercentage {
		return true
	}
	return false
}

func (lr *listRun) isAborted() bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.aborted
}

// runHost runs one host's queue: its lists in plan order.
func (r *runner) runHost(ctx context.Context, h *hostRun) {
	name := h.plan.Name
	for _, lr := range h.lists {
		for _, d := range lr.deps {
			select {
			case <-d.done:
			case <-ctx.Done():
			}
		}
		batch := lr.batchOf(name)
		select {
		case <-lr.started[batch]:
		case <-ctx.Done():
		}
		failed := r.runList(ctx, h, lr, batch)
		lr.finish(batch, failed)
	}
}

// runList runs a list's tasks on one host and reports whether the host
// failed in it.
func (r *runner) runList(ctx context.Context, h *hostRun, lr *listRun, batch int) bool {
	name := h.plan.Name
	switch {
	case h.dropped == StatusUnreachable:
		r.record(Event{Type: EventTask, Host: name, List: lr.list.Addr, Task: lr.list.Addr, Status: StatusUnreachable, Error: h.dropMsg})
		return true
	case h.dropped != "":
		r.notRun(h, lr, "the host dropped out after a failure")
		return false
	}
	for _, d := range lr.deps {
		if d.isAborted() {
			r.notRun(h, lr, fmt.Sprintf("%s exceeded its failure budget", d.list.Addr))
			return false
		}
	}
	if lr.isAborted() {
		r.notRun(h, lr, "an earlier batch exceeded the failure budget")
		return false
	}
	select {
	case r.forks <- struct{}{}:
	case <-ctx.Done():
		r.notRun(h, lr, "the run was cancelled")
		return false
	}
	defer func() { <-r.forks }()
	lr.announced[batch].Do(func() {
		r.emit(Event{Type: EventListStart, List: lr.list.Addr, Hosts: lr.batches[batch]})
	})
	listCtx := ctx
	if lr.list.Timeout > 0 {
		var cancel context.CancelFunc
		listCtx, cancel = context.WithTimeout(ctx, lr.list.Timeout)
		defer cancel()
	}
	h.list, h.listCtx = lr.list, listCtx
	defer func() {
		h.dropQueued() // none is left when the list runs to its end
		h.list, h.listCtx = nil, nil
	}()
	for i, t := range lr.list.Tasks {
		h.pos = i
		if r.stopped() || ctx.Err() != nil {
			return r.stopList(h, lr, i, "the run was interrupted", false)
		}
		if r.opts.Done != nil && r.opts.Done(name, t.Addr) {
			continue
		}
		status := r.runTask(listCtx, h, t)
		switch {
		case status == StatusUnreachable:
			return r.stopList(h, lr, i+1, "the host became unreachable", true)
		case status == StatusFailed && !t.AllowFailure:
			return r.stopList(h, lr, i+1, "the host dropped out after a failure", true)
		}
	}
	return false
}

// stopList ends a list on a host before its task from: that task and the
// rest are not run, for reason why. A call already sent for task from
// (queued.go) is withdrawn; should it have started all the same, its
// result is recorded as it is. It reports whether the host failed in the
// list: failed, or that task failed.
func (r *runner) stopList(h *hostRun, lr *listRun, from int, why string, failed bool) bool {
	if q := h.queued; q != nil && from < len(lr.list.Tasks) && q.task == lr.list.Tasks[from] {
		q.p.Withdraw()
		h.draining, h.drainAfterFailure = why, failed
		h.pos = from
		status := r.runTask(h.listCtx, h, q.task)
		h.draining, h.drainAfterFailure = "", false
		failed = failed || status == StatusUnreachable || (status == StatusFailed && !q.task.AllowFailure)
		from++
	}
	r.notRunFrom(h, lr, from, why)
	return failed
}

func (r *runner) notRun(h *hostRun, lr *listRun, why string) { r.notRunFrom(h, lr, 0, why) }

func (r *runner) notRunFrom(h *hostRun, lr *listRun, from int, why string) {
	for _, t := range lr.list.Tasks[from:] {
		r.record(Event{Type: EventTask, Host: h.plan.Name, List: lr.list.Addr, Task: t.Addr, Status: StatusNotRun, Error: why})
	}
}

// record counts a task event in the recap and emits it.
func (r *runner) record(e Event) {
	r.mu.Lock()
	r.recap[e.Host].Add(e.Status)
	r.mu.Unlock()
	r.emit(e)
}

// storeResult keeps a host's result of a task for later expressions.
func (r *runner) storeResult(task, host string, v cty.Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.results[task]
	if m == nil {
		m = make(map[string]cty.Value, len(r.hosts))
		r.results[task] = m
	}
	m[host] = v
}

func (r *runner) evalContext(t *plan.Task, h *hostRun, each *plan.Each, self cty.Value) *hcl.EvalContext {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cfg.TaskEvalContext(t, plan.HostEval{Host: h.plan, Facts: h.facts, Value: h.value, Results: r.results, Each: each, Self: self})
}

// runTask runs one task on one host, with when, for_each, retries and
// until, records its result and emits its event.
func (r *runner) runTask(ctx context.Context, h *hostRun, t *plan.Task) Status {
	h.taskStart = time.Now()
	if q := h.queued; q != nil && q.task == t && !q.start.IsZero() {
		h.taskStart = q.start // it started on the agent as the task before ended
	}
	ev := Event{Type: EventTask, Host: h.plan.Name, List: t.List.Addr, Task: t.Addr}
	finish := func(s Status, result cty.Value, err error) Status {
		ev.Status, ev.DurMS = s, float64(time.Since(h.taskStart).Microseconds())/1000
		if err != nil {
			ev.Error = err.Error()
		}
		if s == StatusFailed && err == nil {
			ev.Error = "failed"
		}
		if result != cty.NilVal {
			if t.Sensitive {
				result = result.Mark(plan.Sensitive)
				r.opts.Sensitive(result)
			}
			r.storeResult(t.Addr, h.plan.Name, result)
			ev.Result = result
			ev.Diff = diffOf(result)
		}
		r.record(ev)
		if s == StatusUnreachable {
			h.drop(StatusUnreachable, ev.Error)
		} else if s == StatusFailed && !t.AllowFailure {
			h.drop(StatusFailed, ev.Error)
		}
		return s
	}
	// when and for_each are evaluated in the task's context without each;
	// a task with neither leaves building it to attempt.
	var ctx0 *hcl.EvalContext
	if t.When != nil || t.ForEach != nil {
		ctx0 = r.evalContext(t, h, nil, cty.NilVal)
	}
	if t.When != nil {
		v, diags := plan.EvalCondition(t.When, ctx0)
		if diags.HasErrors() {
			return finish(StatusFailed, cty.NilVal, diagErr(diags))
		}
		if !v.IsKnown() {
			return finish(StatusWouldRun, cty.NilVal, nil)
		}
		if v.False() {
			return finish(StatusSkipped, taskResult(cty.NilVal, false, false, true), nil)
		}
	}
	if t.ForEach == nil {
		s, v, err := r.attempt(ctx, h, t, nil)
		return finish(s, v, err)
	}
	elems, known, diags := t.EvalForEach(ctx0)
	if diags.HasErrors() {
		return finish(StatusFailed, cty.NilVal, diagErr(diags))
	}
	if !known {
		return finish(StatusWouldRun, cty.NilVal, nil)
	}
	// The result of a for_each task is an object by each.key; its status
	// is the worst of its elements'.
	out := map[string]cty.Value{}
	overall := StatusOK
	var firstErr error
	anyChanged := false
	for _, e := range elems {
		s, v, err := r.attempt(ctx, h, t, e)
		key := e.Key.AsString()
		if v != cty.NilVal {
			out[key] = v
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("[%s]: %w", key, err)
		}
		overall = worse(overall, s)
		anyChanged = anyChanged || s == StatusChanged
		if s == StatusFailed || s == StatusUnreachable {
			break
		}
	}
	if overall == StatusOK && anyChanged {
		overall = StatusChanged
	}
	res := cty.ObjectVal(out)
	if len(out) == 0 {
		res = cty.EmptyObjectVal
	}
	return finish(overall, res, firstErr)
}

var statusRank = map[Status]int{StatusSkipped: 0, StatusOK: 1, StatusChanged: 2, StatusWouldRun: 3, StatusFailed: 4, StatusUnreachable: 5}

func worse(a, b Status) Status {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}

// prepare evaluates a task's arguments (for one for_each element) for
// its call. A status instead means it makes no call: it would run, in
// check mode, but cannot be checked or has arguments not known yet.
func (r *runner) prepare(h *hostRun, t *plan.Task, each *plan.Each) (args cty.Value, check bool, status Status, err error) {
	evalCtx := r.evalContext(t, h, each, cty.NilVal)
	args, diags := t.EvalArgs(evalCtx)
	if diags.HasErrors() {
		return cty.NilVal, false, "", diagErr(diags)
	}
	check = r.opts.Check
	if t.CheckMode != nil {
		check = *t.CheckMode
	}
	if !args.IsWhollyKnown() {
		// Check mode, and an argument depends on a result not known yet.
		return cty.NilVal, false, StatusWouldRun, nil
	}
	if plan.IsSensitive(args) {
		r.opts.Sensitive(args)
	}
	plain, _ := args.UnmarkDeep()
	if check && !t.Spec.CheckMode {
		return cty.NilVal, false, StatusWouldRun, nil
	}
	return plain, check, "", nil
}

// attempt runs a task (one for_each element) with its retries and until.
func (r *runner) attempt(ctx context.Context, h *hostRun, t *plan.Task, each *plan.Each) (Status, cty.Value, error) {
	var plain cty.Value
	var check bool
	if q := h.queued; q != nil && q.task == t {
		plain, check = q.args, q.check // evaluated when it was sent (never a for_each element)
	} else {
		var status Status
		var err error
		plain, check, status, err = r.prepare(h, t, each)
		if err != nil {
			return StatusFailed, cty.NilVal, err
		}
		if status != "" {
			return status, cty.NilVal, nil
		}
	}
	tries := t.Retries + 1
	if h.draining != "" {
		tries = 1 // the list is ending: only the call already sent counts
	}
	var (
		v   cty.Value
		err error
	)
	for try := 1; try <= tries; try++ {
		if try > 1 && t.Delay > 0 {
			select {
			case <-time.After(t.Delay):
			case <-ctx.Done():
				return StatusFailed, v, ctx.Err()
			}
		}
		v, err = r.call(ctx, h, t, plain, check)
		var ns notStarted
		if errors.As(err, &ns) {
			return StatusNotRun, cty.NilVal, err
		}
		if agent.IsConnError(err) || isUnreachable(err) {
			return StatusUnreachable, cty.NilVal, err
		}
		if t.Until != nil && err == nil {
			selfCtx := r.evalContext(t, h, each, v)
			ok, diags := plan.EvalCondition(t.Until, selfCtx)
			if diags.HasErrors() {
				return StatusFailed, v, diagErr(diags)
			}
			if ok.IsKnown() && ok.True() {
				break
			}
			err = fmt.Errorf("until condition still false after %d tries", try)
			continue
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	changed := false
	if v != cty.NilVal && !v.IsNull() && v.Type().IsObjectType() && v.Type().HasAttribute("changed") {
		if c := v.GetAttr("changed"); c.Type() == cty.Bool && c.IsKnown() && !c.IsNull() {
			changed = c.True()
		}
	}
	if t.ChangedWhen != nil && v != cty.NilVal {
		cw, diags := plan.EvalCondition(t.ChangedWhen, r.evalContext(t, h, each, v))
		if diags.HasErrors() {
			return StatusFailed, v, diagErr(diags)
		}
		changed = cw.IsKnown() && cw.True()
	}
	res := taskResult(v, changed, err != nil, false)
	switch {
	case err != nil:
		return StatusFailed, res, err
	case changed:
		return StatusChanged, res, nil
	}
	return StatusOK, res, nil
}

// call runs the task's builtin (or controller action) once: it takes the
// result of the call sent early for it when there is one, and sends the
// next task's call early when it can (queued.go).
func (r *runner) call(ctx context.Context, h *hostRun, t *plan.Task, args cty.Value, check bool) (cty.Value, error) {
	if q := h.takeQueued(t); q != nil {
		r.queueNext(h, t, q.p)
		v, err := q.wait()
		h.queuedStarts(err)
		started := !didNotStart(err) &&
			!(h.drainAfterFailure && (agent.IsConnError(err) || isUnreachable(err))) // the host is gone after the failure that kept it from starting
		if started {
			return remoteValue(v, err)
		}
		// It did not start: the list is ending, or the call before it
		// failed and the list goes on (allowed to fail after retries).
		if h.draining != "" {
			return cty.NilVal, notStarted{h.draining}
		}
		h.taskStart = time.Now() // sent again now
	}
	// A call queued behind the one that did not start, or behind an
	// earlier try of this task, which failed, did not start either: it is
	// sent again behind this one.
	h.dropQueued()
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	lines := r.outputLines(h.plan.Name, t.Addr)
	defer lines.flush()
	opts := &agent.CallOptions{Check: check, Output: lines.write}
	if a, ok := actions[t.Builtin]; ok {
		env := &callEnv{tun: h.tun, host: h.plan.Name, dir: r.cfg.Dir, check: check, opts: opts,
			progress: r.progress(h.plan.Name, t.List.Addr, t.Addr)}
		return a.run(ctx, env, args)
	}
	p, err := h.tun.StartWith(ctx, t.Builtin, args, opts)
	if err != nil {
		return cty.NilVal, err
	}
	r.queueNext(h, t, p)
	v, err := p.Wait()
	h.queuedStarts(err)
	return remoteValue(v, err)
}

// remoteValue turns a builtin's failure that carries a value (an exec's
// rc and output) into that value and the failure's message.
func remoteValue(v cty.Value, err error) (cty.Value, error) {
	var re *agent.RemoteError
	if errors.As(err, &re) && re.Value != cty.NilVal {
		return re.Value, errors.New(re.Message)
	}
	return v, err
}

// progressEvery is how often a transfer reports its progress.
const progressEvery = 250 * time.Millisecond

// progress returns a transfer's progress callback for a task on a host:
// it emits a progress event at most every progressEvery, and at the end.
func (r *runner) progress(host, list, task string) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		if now := time.Now(); done == total || now.Sub(last) >= progressEvery {
			last = now
			r.emit(Event{Type: EventProgress, Host: host, List: list, Task: task, Done: done, Total: total})
		}
	}
}

func isUnreachable(err error) bool {
	var ue *tunnel.UnreachableError
	return errors.As(err, &ue)
}

// taskResult adds changed, failed and skipped to a builtin's result, so
// every task's result can be tested the same way (task.x.changed). A
// result that is not an object is kept as its result attribute.
func taskResult(v cty.Value, changed, failed, skipped bool) cty.Value {
	var attrs map[string]cty.Value
	switch {
	case v == cty.NilVal || v.IsNull():
		attrs = make(map[string]cty.Value, 3)
	case v.Type().IsObjectType() && v.IsKnown():
		attrs = make(map[string]cty.Value, v.LengthInt()+3)
		for k, a := range v.AsValueMap() {
			attrs[k] = a
		}
	default:
		attrs = map[string]cty.Value{"result": v}
	}
	attrs["changed"], attrs["failed"], attrs["skipped"] = cty.BoolVal(changed), cty.BoolVal(failed), cty.BoolVal(skipped)
	return cty.ObjectVal(attrs)
}

// diffOf is a result's diff attribute, when it has one.
func diffOf(v cty.Value) cty.Value {
	u, _ := v.Unmark()
	if u == cty.NilVal || u.IsNull() || !u.IsKnown() || !u.Type().IsObjectType() || !u.Type().HasAttribute("diff") {
		return cty.NilVal
	}
	return u.GetAttr("diff")
}

func diagErr(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			m = d.Subject.String() + ": " + m
		}
		msgs = append(msgs, m)
	}
	sort.Strings(msgs)
	return errors.New(strings.Join(msgs, "; "))
}
