package plan

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Graph is the task-list DAG: the lists in execution order and the edges
// between them. Edges come only from depends_on and from references to
// other lists' results; inside a list, tasks run in order.
type Graph struct {
	Lists []*TaskList
	Edges []Edge
}

// EdgeKind says why one list waits for another.
type EdgeKind int

const (
	// DependsOnEdge comes from depends_on.
	DependsOnEdge EdgeKind = iota
	// ReadsEdge comes from a reference to the other list's results.
	ReadsEdge
)

// Edge says that list To waits until every host of list From is done.
type Edge struct {
	From, To string
	Kind     EdgeKind
	// Reads lists the tasks of From whose results To reads (ReadsEdge).
	Reads []string
}

// Graph returns the task-list DAG.
func (c *Config) Graph() *Graph {
	if c.graph == nil {
		c.graph = c.buildGraph()
	}
	return c.graph
}

func (c *Config) buildGraph() *Graph {
	g := &Graph{Lists: c.TaskLists}
	for _, l := range c.TaskLists {
		explicit := map[string]bool{}
		for _, d := range l.explicit {
			explicit[d] = true
			g.Edges = append(g.Edges, Edge{From: d, To: l.Addr, Kind: DependsOnEdge})
		}
		reads := map[string][]string{}
		for _, t := range l.Tasks {
			for addr := range t.reads {
				from := addr[:strings.LastIndex(addr, ".")]
				if from != l.Addr {
					reads[from] = append(reads[from], addr)
				}
			}
		}
		for _, from := range sortedKeys(reads) {
			r := reads[from]
			sort.Strings(r)
			g.Edges = append(g.Edges, Edge{From: from, To: l.Addr, Kind: ReadsEdge, Reads: dedupe(r)})
		}
	}
	return g
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteDOT writes the DAG in Graphviz DOT: a cluster per task list with
// its tasks in order, and an edge per dependency (dashed when it comes
// from reading results).
func (g *Graph) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph chopplan {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	fmt.Fprintln(bw, "  node [shape=box];")
	for i, l := range g.Lists {
		fmt.Fprintf(bw, "  subgraph %s {\n", dotQuote(fmt.Sprintf("cluster_%d", i)))
		fmt.Fprintf(bw, "    label=%s;\n", dotQuote(listLabel(l)))
		fmt.Fprintf(bw, "    %s [shape=point];\n", dotQuote(l.Addr))
		prev := l.Addr
		for _, t := range l.Tasks {
			fmt.Fprintf(bw, "    %s [label=%s];\n", dotQuote(t.Addr), dotQuote(t.Name+" ("+t.Builtin+")"))
			fmt.Fprintf(bw, "    %s -> %s;\n", dotQuote(prev), dotQuote(t.Addr))
			prev = t.Addr
		}
		fmt.Fprintln(bw, "  }")
	}
	last := map[string]string{}
	for _, l := range g.Lists {
		last[l.Addr] = l.Addr
		if len(l.Tasks) > 0 {
			last[l.Addr] = l.Tasks[len(l.Tasks)-1].Addr
		}
	}
	for _, e := range g.Edges {
		attrs := `[label="depends_on"]`
		if e.Kind == ReadsEdge {
			attrs = fmt.Sprintf("[style=dashed, label=%s]", dotQuote("reads "+strings.Join(e.Reads, ", ")))
		}
		fmt.Fprintf(bw, "  %s -> %s %s;\n", dotQuote(last[e.From]), dotQuote(e.To), attrs)
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

func listLabel(l *TaskList) string {
	s := l.Addr
	var notes []string
	if len(l.Batch) > 0 {
		var b []string
		for _, x := range l.Batch {
			if x.Count > 0 {
				b = append(b, fmt.Sprint(x.Count))
			} else {
				b = append(b, fmt.Sprintf("%g%%", x.Percent))
			}
		}
		notes = append(notes, "batch "+strings.Join(b, ","))
	}
	notes = append(notes, fmt.Sprintf("%d hosts", len(l.On)))
	if l.Filtered {
		notes[len(notes)-1] += " (before where)"
	}
	return s + " [" + strings.Join(notes, "; ") + "]"
}

// WriteHostsDOT writes per-host queues: a cluster per host with its tasks
// in execution order, and a barrier node per list others wait for, which
// every host of that list reaches before any host of the waiting list
// starts it. Hosts are the lists' On (before any where narrows them).
func (g *Graph) WriteHostsDOT(w io.Writer, hosts []*Tunnel) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph chopplan {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	fmt.Fprintln(bw, "  node [shape=box];")
	waitedFor := map[string]bool{}
	for _, e := range g.Edges {
		waitedFor[e.From] = true
	}
	id := func(h *Tunnel, t *Task) string { return h.Name + "/" + t.Addr }
	on := map[*TaskList]map[*Tunnel]bool{}
	for _, l := range g.Lists {
		on[l] = map[*Tunnel]bool{}
		for _, t := range l.On {
			on[l][t] = true
		}
	}
	onList := func(l *TaskList, h *Tunnel) bool { return on[l][h] }
	for i, h := range hosts {
		var queue []*Task
		for _, l := range g.Lists {
			if onList(l, h) {
				queue = append(queue, l.Tasks...)
			}
		}
		if len(queue) == 0 {
			continue
		}
		fmt.Fprintf(bw, "  subgraph %s {\n", dotQuote(fmt.Sprintf("cluster_host_%d", i)))
		fmt.Fprintf(bw, "    label=%s;\n", dotQuote(h.Name))
		for j, t := range queue {
			fmt.Fprintf(bw, "    %s [label=%s];\n", dotQuote(id(h, t)), dotQuote(t.Addr))
			if j > 0 {
				fmt.Fprintf(bw, "    %s -> %s;\n", dotQuote(id(h, queue[j-1])), dotQuote(id(h, t)))
			}
		}
		fmt.Fprintln(bw, "  }")
	}
	for _, l := range g.Lists {
		if !waitedFor[l.Addr] || len(l.Tasks) == 0 {
			continue
		}
		barrier := "done: " + l.Addr
		fmt.Fprintf(bw, "  %s [shape=diamond];\n", dotQuote(barrier))
		last := l.Tasks[len(l.Tasks)-1]
		for _, h := range hosts {
			if onList(l, h) {
				fmt.Fprintf(bw, "  %s -> %s;\n", dotQuote(id(h, last)), dotQuote(barrier))
			}
		}
	}
	for _, e := range g.Edges {
		var to *TaskList
		for _, l := range g.Lists {
			if l.Addr == e.To {
				to = l
			}
		}
		if to == nil || len(to.Tasks) == 0 {
			continue
		}
		for _, h := range hosts {
			if onList(to, h) {
				fmt.Fprintf(bw, "  %s -> %s [style=bold];\n", dotQuote("done: "+e.From), dotQuote(id(h, to.Tasks[0])))
			}
		}
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}
