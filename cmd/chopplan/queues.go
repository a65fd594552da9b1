package main

import (
	"github.com/chopplan/chopplan/plan"

	"fmt"
	"strings"
)

// printQueues prints each host's queue of task lists and the barriers
// between lists, without connecting (plan -offline).
func (c *cli) printQueues(path string, pf *planFlags) error {
	cfg, err := c.loadValid(path, pf)
	if err != nil {
		return err
	}
	byHost := map[string][]string{}
	var order []string
	for _, l := range cfg.TaskLists {
		for _, h := range l.On {
			if _, ok := byHost[h.Name]; !ok {
				order = append(order, h.Name)
			}
			for _, t := range l.Tasks {
				byHost[h.Name] = append(byHost[h.Name], t.Addr)
			}
		}
	}
	for _, h := range order {
		fmt.Fprintf(c.stdout, "%s:\n", h)
		for _, t := range byHost[h] {
			fmt.Fprintf(c.stdout, "  %s\n", t)
		}
	}
	fmt.Fprintln(c.stdout, "\nBarriers:")
	n := 0
	for _, l := range cfg.TaskLists {
		if len(l.DependsOn) > 0 {
			fmt.Fprintf(c.stdout, "  %s waits for every host of %s\n", l.Addr, strings.Join(l.DependsOn, ", "))
			n++
		}
		if len(l.Batch) > 0 {
			fmt.Fprintf(c.stdout, "  %s runs in batches of %s\n", l.Addr, batchText(l.Batch))
			n++
		}
		if l.Filtered {
			fmt.Fprintf(c.stdout, "  %s: hosts decided at run time by a group's where\n", l.Addr)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(c.stdout, "  none: every host runs its queue as fast as it can")
	}
	return nil
}

func batchText(sizes []plan.BatchSize) string {
	parts := make([]string, len(sizes))
	for i, b := range sizes {
		if b.Count > 0 {
			parts[i] = fmt.Sprint(b.Count)
		} else {
			parts[i] = fmt.Sprintf("%g%%", b.Percent)
		}
	}
	return strings.Join(parts, ", ")
}
