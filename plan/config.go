package plan

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// Config is a loaded plan: everything that can be known before anything
// connects. Modules are expanded in place, their objects' addresses
// prefixed with "module.NAME.". A Config is read-only once Load returns and
// safe to use from many goroutines.
type Config struct {
	// Path is what was loaded (a directory or a file); Dir is the root
	// module's directory.
	Path, Dir string
	// Files holds every file read, by name, so diagnostics can be printed
	// with their source (hcl.NewDiagnosticTextWriter).
	Files map[string]*hcl.File

	// Variables are the root module's input variables in declaration
	// order, with their final values (marked Sensitive when declared so).
	Variables []*Variable
	// Locals are the root module's local values known before the run.
	// Locals that refer to task results are evaluated in each EvalContext.
	Locals map[string]cty.Value
	// Outputs are the root module's outputs, evaluated after a run with
	// EvalOutputs.
	Outputs []*Output

	// Tunnels are every tunnel instance, for_each and count expanded, in
	// plan order. A tunnel instance is a host.
	Tunnels []*Tunnel
	// Groups are every group, with members resolved to tunnels.
	Groups []*Group
	// TaskLists are every task list in execution order: plan order (files
	// by name, blocks in file order, a module's lists where the module
	// block is), moved only as far as needed to follow the lists each
	// depends on.
	TaskLists []*TaskList
	// Modules are every module call, nested ones included.
	Modules []*Module

	root          *instance
	tunnelsByAddr map[string]*Tunnel
	hostsByName   map[string]*Tunnel
	listsByAddr   map[string]*TaskList
	graph         *Graph
}

// Tunnel returns the tunnel instance with the given address.
func (c *Config) Tunnel(addr string) *Tunnel { return c.tunnelsByAddr[addr] }

// Host returns the tunnel instance with the given host name.
func (c *Config) Host(name string) *Tunnel { return c.hostsByName[name] }

// TaskList returns the task list with the given address ("tasks.deploy",
// "module.nginx.tasks.install").
func (c *Config) TaskList(addr string) *TaskList { return c.listsByAddr[addr] }

// Variable is an input variable.
type Variable struct {
	Name        string
	Module      string // "" for the root module, else "module.NAME"
	Type        cty.Type
	Default     cty.Value // cty.NilVal when there is none (the variable is required)
	Description string
	Sensitive   bool
	Nullable    bool
	// Value is the final value after precedence, conversion and defaults,
	// marked Sensitive when the variable is.
	Value       cty.Value
	Validations []*Validation
	DeclRange   hcl.Range

	defaults   *typeexpr.Defaults
	valueRange hcl.Range // where the value was given, when in a file
}

// Validation is a variable's validation block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Output is an output block, evaluated after a run.
type Output struct {
	Name        string
	Module      string
	Expr        hcl.Expression
	Description string
	Sensitive   bool
	DeclRange   hcl.Range
}

// Tunnel is one tunnel instance: one host.
type Tunnel struct {
	// Addr is the instance address: tunnel.ssh.web["web1"],
	// tunnel.docker.smoke, module.nginx.tunnel.local.me.
	Addr string
	Kind string
	// Name is the host name: the for_each key, NAME-INDEX for count, or
	// the block's name. Host names are unique in a plan.
	Name string
	// Key is the instance key: a string for for_each, a number for count,
	// cty.NilVal otherwise.
	Key cty.Value
	// Args is an object with exactly the attributes of the kind's spec,
	// converted, defaulted and marked Sensitive where the spec says so.
	Args cty.Value
	// Via is the tunnel this one is reached through, or nil.
	Via       *Tunnel
	Module    string
	DeclRange hcl.Range
}

// Group is a named set of tunnels.
type Group struct {
	Addr, Name string
	Module     string
	// Members are the group's tunnels known before the run, in plan order.
	// When Where (or the where of a group it includes) is set, the group
	// holds only those members for which it is true on the host: see
	// Config.ResolveHosts.
	Members   []*Tunnel
	Where     hcl.Expression // nil when the group has no where
	DeclRange hcl.Range
}

// TaskList is an ordered list of tasks run on a set of hosts.
type TaskList struct {
	Addr   string // tasks.NAME or module.M.tasks.NAME
	Name   string
	Module string
	// On is every host the list may run on, in plan order. When a group
	// with a where condition is involved (Filtered), the hosts it runs on
	// are decided at run time by Config.ResolveHosts.
	On       []*Tunnel
	OnExpr   hcl.Expression
	Filtered bool
	// DependsOn holds the addresses of the lists every host of which must
	// be done before any host starts this one: depends_on, and lists whose
	// results (tasks.LIST.TASK) this one reads.
	DependsOn []string
	// Batch gives the rolling batch sizes; the last one repeats. Empty
	// means every host at once.
	Batch []BatchSize
	// MaxFailures and MaxFailPercentage are the failure budget: nil when
	// unset (no budget: the list goes on while any host can).
	MaxFailures       *int
	MaxFailPercentage *float64
	Timeout           time.Duration // 0 when unset
	Tags              []string
	Tasks             []*Task
	DeclRange         hcl.Range

	inst      *instance
	exprs     listExprs
	onAddrs   []string
	explicit  []string // depends_on, resolved
	dataDeps  []string // lists whose results this one reads
	planIndex int
}

// BatchSize is a number of hosts or a percentage of the list's hosts.
type BatchSize struct {
	Count   int
	Percent float64 // used when Count is 0
}

// Hosts returns the size of the batch for a list of total hosts (at least 1).
func (b BatchSize) Hosts(total int) int {
	n := b.Count
	if n == 0 {
		n = int(float64(total) * b.Percent / 100)
	}
	if n < 1 {
		n = 1
	}
	return n
}

// Task is one call of a builtin in a task list.
type Task struct {
	Addr    string // tasks.LIST.NAME
	Name    string
	Builtin string
	List    *TaskList
	Spec    FunctionSpec
	// Args holds the expression of every argument given, by name; they
	// are evaluated for each host with EvalArgs.
	Args map[string]hcl.Expression

	// Meta-arguments, the same for every builtin. The expressions are nil
	// when absent and are evaluated per host.
	When        hcl.Expression
	ForEach     hcl.Expression
	Until       hcl.Expression
	ChangedWhen hcl.Expression
	Retries     int
	Delay       time.Duration
	Timeout     time.Duration
	// AllowFailure lets the list go on for a host whose call failed.
	AllowFailure bool
	// CheckMode is nil when unset (follow the run), else forces check
	// mode on (true) or runs the task even in check mode (false).
	CheckMode *bool
	// Sensitive marks the task's arguments and result sensitive.
	Sensitive bool
	DeclRange hcl.Range

	exprs   taskExprs
	unknown bool            // the builtin does not exist; arguments were not checked
	reads   map[string]bool // addresses of the tasks whose results this one reads
	// earlier are the earlier tasks of its list whose results its context
	// holds: those it reads as task.NAME, or all of them when it uses
	// task as a whole.
	earlier []*Task
	// refless: none of its expressions refers to anything (literals and
	// function calls only), so the module's static context serves them.
	refless bool
	// stable: its expressions read no task's result (directly or through
	// a local or a module output) and no local file (Stable).
	stable bool
	// unknownResult is the result before it is known (placeholder).
	unknownResult cty.Value
}

// Module is one module call.
type Module struct {
	Addr   string // module.NAME, module.A.module.B
	Name   string
	Source string
	// Dir is where the module's files were read from.
	Dir       string
	DeclRange hcl.Range
}
