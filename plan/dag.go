package plan

import "sort"

// topoOrder orders nodes so that each comes after the nodes it depends on,
// keeping the given order wherever the dependencies allow. Nodes on a cycle are left out of the order and
// reported, each cycle as the list of its nodes in dependency order.
// Dependencies on nodes not in the list are ignored.
func topoOrder(nodes []string, deps map[string][]string) (order []string, cycles [][]string) {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n] = i
	}
	onCycle := map[string]bool{}
	for _, scc := range stronglyConnected(nodes, deps, index) {
		self := false
		if len(scc) == 1 {
			for _, d := range deps[scc[0]] {
				if d == scc[0] {
					self = true
				}
			}
			if !self {
				continue
			}
		}
		for _, n := range scc {
			onCycle[n] = true
		}
		cycles = append(cycles, cyclePath(scc, deps, index))
	}
	// Depth first in the given order, each node's dependencies (in the
	// given order) before it: a node is pulled forward only as far as its
	// first dependent, and everything else keeps its place.
	done := make([]bool, len(nodes))
	var visit func(i int)
	visit = func(i int) {
		if done[i] || onCycle[nodes[i]] {
			return
		}
		done[i] = true
		ds := make([]int, 0, len(deps[nodes[i]]))
		for _, d := range deps[nodes[i]] {
			if j, ok := index[d]; ok {
				ds = append(ds, j)
			}
		}
		sort.Ints(ds)
		for _, j := range ds {
			visit(j)
		}
		order = append(order, nodes[i])
	}
	for i := range nodes {
		visit(i)
	}
	return order, cycles
}

// stronglyConnected is Tarjan's algorithm (iterative, so deep graphs do
// not exhaust the stack).
func stronglyConnected(nodes []string, deps map[string][]string, index map[string]int) [][]string {
	n := len(nodes)
	idx := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range idx {
		idx[i] = -1
	}
	var stack []int
	var out [][]string
	counter := 0
	type frame struct{ v, next int }
	for s := 0; s < n; s++ {
		if idx[s] >= 0 {
			continue
		}
		call := []frame{{s, 0}}
		idx[s], low[s] = counter, counter
		counter++
		stack = append(stack, s)
		onStack[s] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			ds := deps[nodes[f.v]]
			if f.next < len(ds) {
				w, ok := index[ds[f.next]]
				f.next++
				if !ok {
					continue
				}
				if idx[w] < 0 {
					idx[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] && idx[w] < low[f.v] {
					low[f.v] = idx[w]
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == idx[v] {
				var scc []string
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					scc = append(scc, nodes[w])
					if w == v {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}

// cyclePath finds a cycle through the first node (in plan order) of a
// strongly connected component: start, a node it depends on, …, start.
func cyclePath(scc []string, deps map[string][]string, index map[string]int) []string {
	in := map[string]bool{}
	start := scc[0]
	for _, n := range scc {
		in[n] = true
		if index[n] < index[start] {
			start = n
		}
	}
	// Breadth-first search for the shortest way back to start.
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{start: true}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, d := range deps[n] {
			if !in[d] {
				continue
			}
			if d == start {
				path := []string{start}
				for c := n; c != start; c = prev[c] {
					path = append(path, c)
				}
				// path is start, then the chain back; reverse the tail so it
				// reads in dependency order.
				tail := path[1:]
				for i, j := 0, len(tail)-1; i < j; i, j = i+1, j-1 {
					tail[i], tail[j] = tail[j], tail[i]
				}
				return append(path, start)
			}
			if !seen[d] {
				seen[d] = true
				prev[d] = n
				queue = append(queue, d)
			}
		}
	}
	return append(append([]string(nil), scc...), scc[0])
}
