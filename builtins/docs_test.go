package builtins_test

import (
	"os"
	"strings"
	"testing"

	"github.com/chopplan/chopplan/builtins"
)

// TestDocsCoverEveryBuiltin keeps docs/builtins.md in step with the
// registry: every builtin has a section naming each of its arguments.
func TestDocsCoverEveryBuiltin(t *testing.T) {
	b, err := os.ReadFile("../docs/builtins.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, name := range builtins.Default.Names() {
		if strings.Contains(name, ".") {
			continue // test functions registered by tunneltest
		}
		_, section, ok := strings.Cut(doc, "\n## "+name+"\n")
		if !ok {
			t.Errorf("docs/builtins.md has no section for %s", name)
			continue
		}
		section, _, _ = strings.Cut(section, "\n## ")
		if !strings.Contains(section, "```hcl") {
			t.Errorf("docs/builtins.md: %s has no HCL example", name)
		}
		spec, _ := builtins.Default.Spec(name)
		for _, a := range spec.Args {
			if !strings.Contains(section, "`"+a.Name+"`") {
				t.Errorf("docs/builtins.md: %s does not describe its argument %s", name, a.Name)
			}
		}
	}
}
