package plan

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"
)

// A YAML plan maps onto the schema exactly as HCL's JSON syntax does: a
// mapping key names an argument or a block type, nested mappings carry the
// block labels, and a sequence of mappings gives several blocks (or keeps
// their order). Strings are HCL templates ("${var.release}"); where a
// keyword or a reference is expected (type, depends_on) a plain string is
// read as one, as in JSON. Unlike JSON, an empty (null) block body is an
// empty block, so `local: { me: }` declares a tunnel with no arguments.
//
// yaml.v3 gives every node a line and column; ranges are rebuilt from them
// against the source so diagnostics underline the right text.

// yamlFile is one parsed YAML plan file.
type yamlFile struct {
	name      string
	src       []byte
	lineStart []int // byte offset of each line's first byte, 0-based lines
	templates map[*yaml.Node]hclsyntax.Expression
}

// maxYAMLNodes bounds how far aliases may expand, so a few bytes of
// anchors cannot make the loader walk billions of nodes.
const maxYAMLNodes = 1 << 20

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseYAML(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	f := &yamlFile{name: filename, src: src, templates: map[*yaml.Node]hclsyntax.Expression{}}
	f.lineStart = append(f.lineStart, 0)
	for i, b := range src {
		if b == '\n' {
			f.lineStart = append(f.lineStart, i+1)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line, msg := 1, err.Error()
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		start := f.pos(line, 1)
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid YAML",
			Detail:   fmt.Sprintf("The file is not valid YAML: %s.", msg),
			Subject:  &hcl.Range{Filename: filename, Start: start, End: f.lineEnd(start)},
		}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			root = nil
		} else {
			root = root.Content[0]
		}
	}
	if root == nil || root.Kind == 0 {
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, nil
	}
	var diags hcl.Diagnostics
	if n := yamlSize(root, map[*yaml.Node]int{}); n > maxYAMLNodes {
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "YAML too large",
			Detail:   fmt.Sprintf("The document expands (through its aliases) to more than %d nodes.", maxYAMLNodes),
			Subject:  f.rangeOf(root).Ptr(),
		}}
	}
	diags = append(diags, f.parseTemplates(root, map[*yaml.Node]bool{})...)
	if root.Kind != yaml.MappingNode {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid YAML plan",
			Detail:   "The top level of a YAML plan must be a mapping of block types.",
			Subject:  f.rangeOf(root).Ptr(),
		})
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, diags
	}
	return &hcl.File{Body: &yamlBody{f: f, n: root, missing: f.startRange(root)}, Bytes: src}, diags
}

func yamlSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = maxYAMLNodes + 1 // a node met again while being sized is a cycle
	size := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		size += yamlSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		size += yamlSize(c, memo)
		if size > maxYAMLNodes {
			break
		}
	}
	memo[n] = size
	return size
}

// parseTemplates parses every string value as an HCL template up front, so
// syntax errors show whether or not the value is ever evaluated.
func (f *yamlFile) parseTemplates(n *yaml.Node, seen map[*yaml.Node]bool) hcl.Diagnostics {
	if seen[n] {
		return nil
	}
	seen[n] = true
	var diags hcl.Diagnostics
	switch n.Kind {
	case yaml.ScalarNode:
		if isYAMLString(n) {
			expr, d := hclsyntax.ParseTemplate([]byte(n.Value), f.name, f.templateStart(n))
			diags = append(diags, d...)
			f.templates[n] = expr
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			diags = append(diags, f.parseTemplates(n.Alias, seen)...)
		}
	default:
		for _, c := range n.Content {
			diags = append(diags, f.parseTemplates(c, seen)...)
		}
	}
	return diags
}

func isYAMLString(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		return false
	}
	return true
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pos converts yaml.v3's 1-based line and column (in characters) to an
// hcl.Pos with its byte offset.
func (f *yamlFile) pos(line, col int) hcl.Pos {
	if line < 1 {
		line = 1
	}
	if line > len(f.lineStart) {
		line = len(f.lineStart)
	}
	off := f.lineStart[line-1]
	for c := 1; c < col && off < len(f.src) && f.src[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(f.src[off:])
		off += size
	}
	if col < 1 {
		col = 1
	}
	return hcl.Pos{Line: line, Column: col, Byte: off}
}

// advance moves p forward by n bytes on its line (not past the line's end).
func (f *yamlFile) advance(p hcl.Pos, n int) hcl.Pos {
	for i := 0; i < n && p.Byte < len(f.src) && f.src[p.Byte] != '\n'; {
		r, size := utf8.DecodeRune(f.src[p.Byte:])
		_ = r
		p.Byte += size
		p.Column++
		i += size
	}
	return p
}

func (f *yamlFile) lineEnd(p hcl.Pos) hcl.Pos {
	e := p
	for e.Byte < len(f.src) && f.src[e.Byte] != '\n' {
		_, size := utf8.DecodeRune(f.src[e.Byte:])
		e.Byte += size
		e.Column++
	}
	return e
}

func (f *yamlFile) startRange(n *yaml.Node) hcl.Range {
	start := f.pos(n.Line, n.Column)
	end := f.advance(start, 1)
	if n.Kind == yaml.ScalarNode {
		end = f.scalarEnd(n, start)
	}
	return hcl.Range{Filename: f.name, Start: start, End: end}
}

func (f *yamlFile) scalarEnd(n *yaml.Node, start hcl.Pos) hcl.Pos {
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		// Find the closing quote on the line, skipping escapes.
		q := f.src[start.Byte]
		for i := start.Byte + 1; i < len(f.src) && f.src[i] != '\n'; i++ {
			if f.src[i] == '\\' && q == '"' {
				i++
				continue
			}
			if f.src[i] == q {
				return f.advance(start, i+1-start.Byte)
			}
		}
		return f.lineEnd(start)
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return f.advance(start, 1)
	}
	if strings.Contains(n.Value, "\n") {
		return f.lineEnd(start)
	}
	return f.advance(start, len(n.Value))
}

// rangeOf is the whole extent of a node: from its start to the end of its
// last descendant.
func (f *yamlFile) rangeOf(n *yaml.Node) hcl.Range {
	r := f.startRange(n)
	last := n
	for i := 0; len(last.Content) > 0 && i < 1000; i++ {
		last = last.Content[len(last.Content)-1]
	}
	if last != n {
		r.End = f.startRange(last).End
	}
	return r
}

// templateStart is where a string's content begins in the source.
func (f *yamlFile) templateStart(n *yaml.Node) hcl.Pos {
	start := f.pos(n.Line, n.Column)
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return f.advance(start, 1)
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the next line, after the indentation.
		if n.Line < len(f.lineStart) {
			p := f.pos(n.Line+1, 1)
			for p.Byte < len(f.src) && f.src[p.Byte] == ' ' {
				p.Byte++
				p.Column++
			}
			return p
		}
	}
	return start
}

// yamlBody is an hcl.Body over a YAML mapping (or a sequence of mappings).
type yamlBody struct {
	f       *yamlFile
	n       *yaml.Node // nil for an empty block written as a null value
	hidden  map[string]struct{}
	missing hcl.Range // where a missing argument is reported: the block's key
}

type yamlAttr struct {
	name      string
	nameRange hcl.Range
	value     *yaml.Node
}

func (b *yamlBody) Content(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	content, rest, diags := b.PartialContent(schema)
	hidden := rest.(*yamlBody).hidden
	var names []string
	for _, a := range schema.Attributes {
		if _, ok := hidden[a.Name]; !ok {
			names = append(names, a.Name)
		}
	}
	for _, bs := range schema.Blocks {
		names = append(names, bs.Type)
	}
	attrs, _ := b.collect(b.n, "")
	for _, a := range attrs {
		if _, ok := hidden[a.name]; ok {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported argument",
			Detail:   fmt.Sprintf("No argument or block type is named %q.%s", a.name, didYouMean(a.name, names)),
			Subject:  a.nameRange.Ptr(),
		})
	}
	return content, diags
}

func (b *yamlBody) PartialContent(schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	attrs, diags := b.collect(b.n, "")
	used := map[string]struct{}{}
	for k := range b.hidden {
		used[k] = struct{}{}
	}
	content := &hcl.BodyContent{Attributes: hcl.Attributes{}, MissingItemRange: b.MissingItemRange()}
	attrSchemas := map[string]hcl.AttributeSchema{}
	blockSchemas := map[string]hcl.BlockHeaderSchema{}
	for _, a := range schema.Attributes {
		attrSchemas[a.Name] = a
	}
	for _, bs := range schema.Blocks {
		blockSchemas[bs.Type] = bs
	}
	for _, a := range attrs {
		if _, h := b.hidden[a.name]; h {
			continue
		}
		if _, ok := attrSchemas[a.name]; ok {
			if d := b.addAttr(content.Attributes, a); d != nil {
				diags = append(diags, d)
				continue
			}
			used[a.name] = struct{}{}
		} else if bs, ok := blockSchemas[a.name]; ok {
			diags = append(diags, b.unpackBlock(a.value, bs.Type, a.nameRange, bs.LabelNames, nil, nil, &content.Blocks)...)
			used[a.name] = struct{}{}
		}
	}
	for _, a := range schema.Attributes {
		if _, ok := content.Attributes[a.Name]; a.Required && !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required, but no definition was found.", a.Name),
				Subject:  b.MissingItemRange().Ptr(),
			})
		}
	}
	return content, &yamlBody{f: b.f, n: b.n, hidden: used, missing: b.missing}, diags
}

func (b *yamlBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs := hcl.Attributes{}
	n := resolveAlias(b.n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return attrs, nil
	}
	if n.Kind != yaml.MappingNode {
		return attrs, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect YAML value type",
			Detail:   "A mapping is required here, setting the arguments for this block.",
			Subject:  b.f.startRange(n).Ptr(),
		}}
	}
	list, diags := b.collect(n, "")
	for _, a := range list {
		if _, h := b.hidden[a.name]; h {
			continue
		}
		if d := b.addAttr(attrs, a); d != nil {
			diags = append(diags, d)
		}
	}
	return attrs, diags
}

// addAttr adds a to attrs as an argument, or reports it set twice.
func (b *yamlBody) addAttr(attrs hcl.Attributes, a yamlAttr) *hcl.Diagnostic {
	if existing, dup := attrs[a.name]; dup {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate argument",
			Detail:   fmt.Sprintf("The argument %q was already set at %s.", a.name, existing.NameRange),
			Subject:  a.nameRange.Ptr(),
		}
	}
	expr := &yamlExpr{f: b.f, n: a.value}
	attrs[a.name] = &hcl.Attribute{
		Name:      a.name,
		Expr:      expr,
		Range:     hcl.RangeBetween(a.nameRange, expr.Range()),
		NameRange: a.nameRange,
	}
	return nil
}

func (b *yamlBody) MissingItemRange() hcl.Range { return b.missing }

// collect flattens a mapping, or a sequence of mappings, into its keys and
// values in source order. labelName, when set, tailors the messages to
// block labels.
func (b *yamlBody) collect(n *yaml.Node, labelName string) ([]yamlAttr, hcl.Diagnostics) {
	n = resolveAlias(n)
	if n == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	what := "to define arguments and child blocks"
	if labelName != "" {
		what = fmt.Sprintf("to give this block's %s", labelName)
	}
	var attrs []yamlAttr
	addMapping := func(m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := resolveAlias(m.Content[i])
			if k.Kind != yaml.ScalarNode {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid YAML key",
					Detail:   "A mapping key must be a plain string here.",
					Subject:  b.f.startRange(k).Ptr(),
				})
				continue
			}
			attrs = append(attrs, yamlAttr{name: k.Value, nameRange: b.f.startRange(k), value: m.Content[i+1]})
		}
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
	case n.Kind == yaml.MappingNode:
		addMapping(n)
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			e = resolveAlias(e)
			if e.Kind == yaml.MappingNode {
				addMapping(e)
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Incorrect YAML value type",
				Detail:   fmt.Sprintf("A mapping is required here, %s.", what),
				Subject:  b.f.startRange(e).Ptr(),
			})
		}
	default:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect YAML value type",
			Detail:   fmt.Sprintf("A mapping or a sequence of mappings is required here, %s.", what),
			Subject:  b.f.startRange(n).Ptr(),
		})
	}
	return attrs, diags
}

func (b *yamlBody) unpackBlock(v *yaml.Node, typeName string, typeRange hcl.Range, labelsLeft, labelsUsed []string, labelRanges []hcl.Range, blocks *hcl.Blocks) hcl.Diagnostics {
	v = resolveAlias(v)
	if len(labelsLeft) > 0 {
		attrs, diags := b.collect(v, labelsLeft[0])
		if len(attrs) == 0 && !diags.HasErrors() {
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing block label",
				Detail:   fmt.Sprintf("At least one mapping key is required, whose name is the %s block's %s.", typeName, labelsLeft[0]),
				Subject:  typeRange.Ptr(),
			})
		}
		for _, a := range attrs {
			used := append(append([]string(nil), labelsUsed...), a.name)
			ranges := append(append([]hcl.Range(nil), labelRanges...), a.nameRange)
			diags = append(diags, b.unpackBlock(a.value, typeName, typeRange, labelsLeft[1:], used, ranges, blocks)...)
		}
		return diags
	}
	def := typeRange
	if len(labelRanges) > 0 {
		def = labelRanges[len(labelRanges)-1]
	}
	mk := func(n *yaml.Node) *hcl.Block {
		return &hcl.Block{
			Type:        typeName,
			Labels:      labelsUsed,
			Body:        &yamlBody{f: b.f, n: n, missing: def},
			DefRange:    def,
			TypeRange:   typeRange,
			LabelRanges: labelRanges,
		}
	}
	switch {
	case v == nil, v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null", v.Kind == yaml.MappingNode:
		*blocks = append(*blocks, mk(v))
	case v.Kind == yaml.SequenceNode:
		for _, e := range v.Content {
			*blocks = append(*blocks, mk(e))
		}
	default:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect YAML value type",
			Detail:   fmt.Sprintf("A mapping or a sequence of mappings is required here, giving the contents of one or more %q blocks.", typeName),
			Subject:  b.f.startRange(v).Ptr(),
		}}
	}
	return nil
}

// yamlExpr is an hcl.Expression over a YAML node.
type yamlExpr struct {
	f *yamlFile
	n *yaml.Node
}

var _ hcl.Expression = (*yamlExpr)(nil)

func (e *yamlExpr) node() *yaml.Node { return resolveAlias(e.n) }

func (e *yamlExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	n := e.node()
	if n == nil {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return e.scalar(n, ctx)
	case yaml.SequenceNode:
		var diags hcl.Diagnostics
		vals := make([]cty.Value, 0, len(n.Content))
		for _, c := range n.Content {
			v, d := (&yamlExpr{f: e.f, n: c}).Value(ctx)
			diags = append(diags, d...)
			vals = append(vals, v)
		}
		return cty.TupleVal(vals), diags
	case yaml.MappingNode:
		var diags hcl.Diagnostics
		attrs := map[string]cty.Value{}
		known := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := resolveAlias(n.Content[i])
			k, d := (&yamlExpr{f: e.f, n: kn}).Value(ctx)
			diags = append(diags, d...)
			v, d := (&yamlExpr{f: e.f, n: n.Content[i+1]}).Value(ctx)
			diags = append(diags, d...)
			if !k.IsKnown() {
				known = false
				continue
			}
			if k.IsNull() || !k.Type().Equals(cty.String) && !k.Type().IsPrimitiveType() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid object key",
					Detail:   "An object key must be a string.",
					Subject:  e.f.startRange(kn).Ptr(),
				})
				continue
			}
			ks := kn.Value
			if k.Type() == cty.String {
				ks = k.AsString()
			}
			if _, dup := attrs[ks]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate object attribute",
					Detail:   fmt.Sprintf("An attribute named %q was already defined in this mapping.", ks),
					Subject:  e.f.startRange(kn).Ptr(),
				})
				continue
			}
			attrs[ks] = v
		}
		if !known {
			return cty.DynamicVal, diags
		}
		return cty.ObjectVal(attrs), diags
	}
	return cty.DynamicVal, nil
}

func (e *yamlExpr) scalar(n *yaml.Node, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	switch n.ShortTag() {
	case "!!null":
		return cty.NullVal(cty.DynamicPseudoType), nil
	case "!!bool":
		return cty.BoolVal(strings.EqualFold(n.Value, "true")), nil
	case "!!int", "!!float":
		if v, err := cty.ParseNumberVal(strings.ReplaceAll(n.Value, "_", "")); err == nil {
			return v, nil
		}
		if i, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0); ok {
			return cty.NumberVal(new(big.Float).SetInt(i)), nil
		}
		return cty.DynamicVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid number",
			Detail:   fmt.Sprintf("%q is a YAML number chopplan cannot represent.", n.Value),
			Subject:  e.f.startRange(n).Ptr(),
		}}
	}
	if ctx == nil {
		return cty.StringVal(n.Value), nil
	}
	tmpl, ok := e.f.templates[n]
	if !ok || tmpl == nil {
		return cty.StringVal(n.Value), nil
	}
	return tmpl.Value(ctx)
}

func (e *yamlExpr) Variables() []hcl.Traversal {
	n := e.node()
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if t := e.f.templates[n]; t != nil {
			return t.Variables()
		}
		return nil
	}
	var vars []hcl.Traversal
	for _, c := range n.Content {
		vars = append(vars, (&yamlExpr{f: e.f, n: c}).Variables()...)
	}
	return vars
}

func (e *yamlExpr) Range() hcl.Range {
	if n := e.node(); n != nil {
		return e.f.rangeOf(n)
	}
	return hcl.Range{Filename: e.f.name}
}

func (e *yamlExpr) StartRange() hcl.Range {
	if n := e.node(); n != nil {
		return e.f.startRange(n)
	}
	return hcl.Range{Filename: e.f.name}
}

// AsTraversal reads a string as a traversal (depends_on, type keywords),
// as HCL's JSON syntax does.
func (e *yamlExpr) AsTraversal() hcl.Traversal {
	n := e.node()
	if n == nil || n.Kind != yaml.ScalarNode || !isYAMLString(n) {
		return nil
	}
	src := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(n.Value), "${"), "}")
	t, diags := hclsyntax.ParseTraversalAbs([]byte(src), e.f.name, e.f.templateStart(n))
	if diags.HasErrors() {
		return nil
	}
	return t
}

// ExprCall reads a string as a static call (type constraints such as
// "list(string)").
func (e *yamlExpr) ExprCall() *hcl.StaticCall {
	n := e.node()
	if n == nil || n.Kind != yaml.ScalarNode || !isYAMLString(n) {
		return nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(n.Value), e.f.name, e.f.templateStart(n))
	if diags.HasErrors() {
		return nil
	}
	call, diags := hcl.ExprCall(expr)
	if diags.HasErrors() {
		return nil
	}
	return call
}

func (e *yamlExpr) ExprList() []hcl.Expression {
	n := e.node()
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]hcl.Expression, len(n.Content))
	for i, c := range n.Content {
		out[i] = &yamlExpr{f: e.f, n: c}
	}
	return out
}

func (e *yamlExpr) ExprMap() []hcl.KeyValuePair {
	n := e.node()
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]hcl.KeyValuePair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, hcl.KeyValuePair{
			Key:   &yamlExpr{f: e.f, n: n.Content[i]},
			Value: &yamlExpr{f: e.f, n: n.Content[i+1]},
		})
	}
	return out
}
