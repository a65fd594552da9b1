package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// assemble flattens the evaluated module instances into the Config:
// tunnels, groups and lists with their hosts resolved, and the task lists
// ordered by their dependencies.
func (c *Config) assemble() hcl.Diagnostics {
	var diags hcl.Diagnostics
	c.tunnelsByAddr = map[string]*Tunnel{}
	c.hostsByName = map[string]*Tunnel{}
	c.listsByAddr = map[string]*TaskList{}

	root := c.root
	c.Variables = root.varOrder
	c.Locals = map[string]cty.Value{}
	for name, v := range root.vals.locals {
		if !root.vals.dynLocals[name] {
			c.Locals[name] = v
		}
	}
	c.Outputs = root.outOrder

	var decls []*tunnelDecl
	var groups []*groupDecl
	var walk func(in *instance)
	walk = func(in *instance) {
		decls = append(decls, in.tunOrder...)
		groups = append(groups, in.grpOrder...)
		for _, it := range in.items {
			if it.list != nil {
				c.TaskLists = append(c.TaskLists, it.list)
			} else if it.call.inst != nil {
				c.Modules = append(c.Modules, it.call.module)
				walk(it.call.inst)
			}
		}
	}
	walk(root)

	for _, d := range decls {
		for _, t := range d.instances {
			c.Tunnels = append(c.Tunnels, t)
			c.tunnelsByAddr[t.Addr] = t
			if prev, ok := c.hostsByName[t.Name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate host name",
					Detail: fmt.Sprintf("%s and %s are both named %q. Host names (a tunnel's for_each key, or its name) must be unique: results and output are keyed by them.",
						prev.Addr, t.Addr, t.Name),
					Subject: t.DeclRange.Ptr(),
				})
				continue
			}
			c.hostsByName[t.Name] = t
		}
	}
	index := map[*Tunnel]int{}
	for i, t := range c.Tunnels {
		index[t] = i
	}
	for _, d := range decls {
		for _, t := range d.instances {
			addr, ok := d.viaAddrs[t]
			if !ok {
				continue
			}
			via := c.tunnelsByAddr[addr]
			if via == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid via",
					Detail:   fmt.Sprintf("via is %q, which is not a tunnel instance.%s", addr, didYouMean(addr, c.tunnelAddrs())),
					Subject:  d.via.Range().Ptr(),
				})
				continue
			}
			t.Via = via
		}
	}
	diags = append(diags, c.checkViaCycles()...)

	resolve := func(addrs []string, expr hcl.Expression, what string) []*Tunnel {
		var out []*Tunnel
		seen := map[*Tunnel]bool{}
		for _, a := range addrs {
			t := c.tunnelsByAddr[a]
			if t == nil {
				rng := hcl.Range{}
				if expr != nil {
					rng = expr.Range()
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid " + what,
					Detail:   fmt.Sprintf("%q is not the address of a tunnel. Refer to tunnels and groups by reference, as tunnel.KIND.NAME or group.NAME.", a),
					Subject:  rng.Ptr(),
				})
				continue
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return index[out[i]] < index[out[j]] })
		return out
	}
	for _, g := range groups {
		in := c.instanceOf(g)
		g.group = &Group{
			Addr:      in.prefix() + "group." + g.name,
			Name:      g.name,
			Module:    in.addr,
			Members:   resolve(g.addrs, g.members, "group member"),
			Where:     g.where,
			DeclRange: g.declRange,
		}
		c.Groups = append(c.Groups, g.group)
	}
	for i, l := range c.TaskLists {
		l.planIndex = i
		c.listsByAddr[l.Addr] = l
		l.On = resolve(l.onAddrs, l.OnExpr, "hosts")
	}
	diags = append(diags, c.orderLists()...)
	return diags
}

// instanceOf finds the module instance declaring a group.
func (c *Config) instanceOf(g *groupDecl) *instance {
	var found *instance
	var walk func(in *instance)
	walk = func(in *instance) {
		if in.groups[g.name] == g {
			found = in
			return
		}
		for _, call := range in.calls {
			if call.inst != nil && found == nil {
				walk(call.inst)
			}
		}
	}
	walk(c.root)
	return found
}

func (c *Config) tunnelAddrs() []string {
	out := make([]string, len(c.Tunnels))
	for i, t := range c.Tunnels {
		out[i] = t.Addr
	}
	return out
}

func (c *Config) checkViaCycles() hcl.Diagnostics {
	var nodes []string
	deps := map[string][]string{}
	for _, t := range c.Tunnels {
		nodes = append(nodes, t.Addr)
		if t.Via != nil {
			deps[t.Addr] = []string{t.Via.Addr}
		}
	}
	_, cycles := topoOrder(nodes, deps)
	var diags hcl.Diagnostics
	for _, cyc := range cycles {
		t := c.tunnelsByAddr[cyc[0]]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle in via",
			Detail:   fmt.Sprintf("These tunnels are each reached through the next, in a loop: %s.", strings.Join(cyc, " → ")),
			Subject:  t.DeclRange.Ptr(),
		})
		for _, a := range cyc {
			c.tunnelsByAddr[a].Via = nil
		}
	}
	return diags
}

// orderLists gives each list its dependencies and sorts the lists into
// execution order; a cycle is an error naming every list on it.
func (c *Config) orderLists() hcl.Diagnostics {
	var diags hcl.Diagnostics
	var nodes []string
	deps := map[string][]string{}
	for _, l := range c.TaskLists {
		nodes = append(nodes, l.Addr)
		seen := map[string]bool{}
		for _, d := range append(append([]string(nil), l.explicit...), l.dataDeps...) {
			if !seen[d] {
				seen[d] = true
				l.DependsOn = append(l.DependsOn, d)
			}
		}
		sort.SliceStable(l.DependsOn, func(i, j int) bool {
			return c.listsByAddr[l.DependsOn[i]].planIndex < c.listsByAddr[l.DependsOn[j]].planIndex
		})
		deps[l.Addr] = l.DependsOn
	}
	order, cycles := topoOrder(nodes, deps)
	for _, cyc := range cycles {
		l := c.listsByAddr[cyc[0]]
		var steps []string
		for i := 0; i+1 < len(cyc); i++ {
			steps = append(steps, fmt.Sprintf("%s waits for %s", cyc[i], cyc[i+1]))
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle between task lists",
			Detail: fmt.Sprintf("The task lists %s wait for each other (%s), so none can start. Dependencies come from depends_on and from reading other lists' results (tasks.LIST.TASK).",
				strings.Join(cyc[:len(cyc)-1], ", "), strings.Join(steps, "; ")),
			Subject: l.DeclRange.Ptr(),
		})
	}
	sorted := make([]*TaskList, 0, len(c.TaskLists))
	placed := map[string]bool{}
	for _, a := range order {
		sorted = append(sorted, c.listsByAddr[a])
		placed[a] = true
	}
	for _, l := range c.TaskLists {
		if !placed[l.Addr] {
			sorted = append(sorted, l)
		}
	}
	c.TaskLists = sorted
	c.graph = c.buildGraph()
	return diags
}

// ResolveHosts decides, with the facts of each host (by host name), which
// hosts each task list runs on: groups with where keep the members for
// which it is true. A host without facts is kept (the run then reports it
// unreachable). Lists that are not Filtered keep their On. Locals see the
// static group members.
func (c *Config) ResolveHosts(facts map[string]cty.Value) (map[*TaskList][]*Tunnel, hcl.Diagnostics) {
	out := map[*TaskList][]*Tunnel{}
	var diags hcl.Diagnostics
	var walk func(in *instance, on cty.Value)
	walk = func(in *instance, on cty.Value) {
		if in.vals.static == nil {
			return
		}
		ctx := in.vals.static.NewChild()
		groups := map[string]cty.Value{}
		for k, v := range in.vals.groups {
			groups[k] = v
		}
		vars := map[string]cty.Value{}
		for k, v := range in.vals.vars {
			vars[k] = v
		}
		if in.addr != "" {
			vars["on"] = on
		}
		ctx.Variables = map[string]cty.Value{"group": objectOf(groups), "var": objectOf(vars)}
		for _, g := range in.vals.groupOrder {
			if !in.vals.filtered["group."+g.name] {
				continue
			}
			v, d := g.members.Value(ctx)
			diags = append(diags, d...)
			addrs, d := hostAddresses(v, g.members, "group members")
			diags = append(diags, d...)
			if g.where != nil {
				kept := addrs[:0:0]
				for _, a := range addrs {
					t := c.tunnelsByAddr[a]
					if t == nil {
						continue
					}
					f, ok := facts[t.Name]
					if !ok {
						f = cty.DynamicVal
					}
					keep, d := evalWhere(g.where, ctx, hostObject(t, f))
					diags = append(diags, d...)
					if keep {
						kept = append(kept, a)
					}
				}
				addrs = kept
			}
			groups[g.name] = addressSet(addrs)
			ctx.Variables["group"] = objectOf(groups)
		}
		for _, it := range in.items {
			switch {
			case it.list != nil:
				l := it.list
				if !l.Filtered {
					out[l] = l.On
					continue
				}
				var v cty.Value
				var expr hcl.Expression = l.OnExpr
				if expr == nil {
					v, expr = on, in.call.on
				} else {
					var d hcl.Diagnostics
					v, d = expr.Value(ctx)
					diags = append(diags, d...)
				}
				addrs, d := hostAddresses(v, expr, "hosts")
				diags = append(diags, d...)
				keep := map[string]bool{}
				for _, a := range addrs {
					keep[a] = true
				}
				var hosts []*Tunnel
				for _, t := range l.On {
					if keep[t.Addr] {
						hosts = append(hosts, t)
					}
				}
				out[l] = hosts
			case it.call.inst != nil:
				childOn := it.call.inst.vals.on
				if it.call.on != nil {
					v, d := it.call.on.Value(ctx)
					diags = append(diags, d...)
					addrs, d := hostAddresses(v, it.call.on, "module hosts")
					diags = append(diags, d...)
					childOn = addressSet(addrs)
				}
				walk(it.call.inst, childOn)
			}
		}
	}
	walk(c.root, c.root.vals.on)
	return out, diags
}
