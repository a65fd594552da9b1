package builtins

import (
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// TemplateResultType is the shape of the template builtin's result.
var TemplateResultType = cty.Object(map[string]cty.Type{
	"path": cty.String, "state": cty.String, "changed": cty.Bool, "diff": FileDiffType, "backup_file": cty.String,
})

// TemplateControllerArgs are the arguments of a template task that the
// controller consumes before the call: it reads src (a file beside the
// plan), renders it with vars using HCL template syntax, and sends the
// result as content. The agent never sees a template, only its text.
var TemplateControllerArgs = []string{"src", "vars"}

func init() {
	MustRegister(Spec{
		Name: "template",
		Doc: "Writes a rendered template to dest, atomically, with a unified diff of what changes. " +
			"In a plan the task gives src (a template file on the controller) and vars; the controller renders " +
			"it with HCL template syntax and calls this builtin with the text as content, " +
			"so the agent never sees the template language.",
		Args: append([]Arg{
			{Name: "dest", Type: cty.String, Required: true, Doc: "the file to write; a link at dest is followed"},
			{Name: "content", Type: cty.String, Required: true, Doc: "the rendered text (the controller fills it from src and vars)"},
			{Name: "backup", Type: cty.Bool, Default: cty.False, Doc: "keep the replaced file as dest.<timestamp>~"},
		}, attrArgs()...),
		Result: TemplateResultType, CheckMode: true, Idempotent: true,
		Run: template,
	})
}

func template(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	dest, err := filepath.Abs(argString(args, "dest"))
	if err != nil {
		return cty.NilVal, err
	}
	a, err := readAttrs(args)
	if err != nil {
		return cty.NilVal, err
	}
	c := newChange()
	w := fileWant{content: []byte(argString(args, "content")), manage: true, create: true, attrs: a, backup: argBool(args, "backup")}
	backup, err := ensureFile(cc.Check(), dest, w, c)
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(dest), "state": cty.StringVal("file"), "changed": cty.BoolVal(c.changed()),
		"diff": c.value(), "backup_file": cty.StringVal(backup),
	}), nil
}
