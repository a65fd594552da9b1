package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/engine"
	"github.com/chopplan/chopplan/plan"
	"github.com/chopplan/chopplan/tunnel"
)

// BenchmarkScheduler1000x100: 1,000 hosts × 100 tasks, over in-process
// agents, so what is measured is the engine: expansion, evaluation of
// each task's arguments per host, scheduling and events.
func BenchmarkScheduler1000x100(b *testing.B) {
	var src strings.Builder
	src.WriteString("tunnel \"local\" \"h\" {\n  for_each = toset([for i in range(1000) : \"h${i}\"])\n}\n")
	src.WriteString("tasks \"all\" {\n  on = tunnel.local.h\n")
	for i := range 100 {
		fmt.Fprintf(&src, "  task \"ping\" \"t%d\" {}\n", i)
	}
	src.WriteString("}\n")
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "main.chop.hcl"), []byte(src.String()), 0o644)
	cfg, diags := plan.Load(dir, plan.LoadOptions{Schemas: engine.Schemas(nil)})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	inProcess := func(t *plan.Tunnel) (tunnel.Kind, error) { return tunnel.InProcess(t.Name), nil }
	b.ResetTimer()
	for range b.N {
		n := 0
		res, err := engine.Run(context.Background(), cfg, engine.Options{
			NewKind: inProcess,
			Sink:    engine.SinkFunc(func(e engine.Event) { n++ }),
		})
		if err != nil || res.Failed() || res.Unreachable() {
			b.Fatalf("run failed: %v", err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "tasks/s")
}
