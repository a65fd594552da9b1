package builtins

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"

	"github.com/zclconf/go-cty/cty"
)

// FileDiffType is the shape of the diff in the results of file, template
// and line: the attributes that change (state, mode, owner, group, src),
// each before and after, and the content as a unified diff ("" when the
// content stays).
var FileDiffType = cty.Object(map[string]cty.Type{
	"before": cty.Map(cty.String), "after": cty.Map(cty.String), "content": cty.String,
})

// modeDoc is shared by every builtin that takes a mode, so they all say
// the same thing about the decimal trap.
const modeDoc = `permission bits: a string of octal digits ("0644", "755", "4755" with setuid) or a number, ` +
	`which is the mode's value (420 is 0644). In HCL write modes as strings: 644 is a decimal number. ` +
	`Null keeps an existing file's mode; a new file gets 0644, a new directory 0755`

// attrArgs are the mode, owner and group arguments of the builtins that
// manage files.
func attrArgs() []Arg {
	return []Arg{
		{Name: "mode", Type: cty.DynamicPseudoType, Doc: modeDoc},
		{Name: "owner", Type: cty.String, Doc: "user name or uid; null keeps an existing file's owner (a new file belongs to the agent's user)"},
		{Name: "group", Type: cty.String, Doc: "group name or gid; null keeps an existing file's group"},
	}
}

// attrs are the wanted mode and ownership of a path; -1 keeps what is there.
type attrs struct {
	mode     int64
	uid, gid int
}

func (a attrs) given() bool { return a.mode >= 0 || a.uid >= 0 || a.gid >= 0 }

// readAttrs parses the mode, owner and group arguments.
func readAttrs(args cty.Value) (attrs, error) {
	mode, err := parseMode(args.GetAttr("mode"))
	if err != nil {
		return attrs{}, err
	}
	uid, gid, err := lookupOwner(argString(args, "owner"), argString(args, "group"))
	if err != nil {
		return attrs{}, err
	}
	return attrs{mode: mode, uid: uid, gid: gid}, nil
}

// parseMode reads a mode given as a number (its value) or as a string of
// octal digits; null gives -1.
func parseMode(v cty.Value) (int64, error) {
	if v.IsNull() {
		return -1, nil
	}
	if !v.IsKnown() {
		return 0, fmt.Errorf("mode is not known yet")
	}
	var m int64
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 {
			return 0, fmt.Errorf("mode %s is not a whole number", bf.Text('g', -1))
		}
		m = i
	case cty.String:
		s := strings.TrimPrefix(strings.TrimPrefix(v.AsString(), "0o"), "0O")
		i, err := strconv.ParseInt(s, 8, 64)
		if err != nil || s == "" {
			return 0, fmt.Errorf("mode %q is not octal digits such as \"0644\"", v.AsString())
		}
		m = i
	default:
		return 0, fmt.Errorf("mode must be a string such as \"0644\" or a number, not %s", v.Type().FriendlyName())
	}
	if m < 0 || m > 0o7777 {
		return 0, fmt.Errorf("mode %#o is out of range (0000 to 07777)", m)
	}
	return m, nil
}

func modeString(m int64) string { return fmt.Sprintf("%04o", m) }

// change collects what a builtin changes (or would, in check mode) on one
// path, in the shape of FileDiffType.
type change struct {
	before, after map[string]string
	content       string
}

func newChange() *change { return &change{before: map[string]string{}, after: map[string]string{}} }

// set records attribute name going from before to after, when they differ.
func (c *change) set(name, before, after string) {
	if before != after {
		c.before[name], c.after[name] = before, after
	}
}

func (c *change) changed() bool { return len(c.before) > 0 || c.content != "" }

func (c *change) value() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"before": stringMap(c.before), "after": stringMap(c.after), "content": cty.StringVal(c.content),
	})
}

func stringMap(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

// created records the attributes a new path of the given type will have.
func (a attrs) created(c *change, typ string, mode int64) {
	c.set("state", "absent", typ)
	if a.mode >= 0 {
		mode = a.mode
	}
	if typ != "link" {
		c.after["mode"] = modeString(mode)
	}
	if a.uid >= 0 {
		c.after["owner"] = userName(uint32(a.uid))
	}
	if a.gid >= 0 {
		c.after["group"] = groupName(uint32(a.gid))
	}
}

// compare records in c how fi's attributes differ from a. It returns the
// mode the path must end with and the ids to chown to (-1 where they
// stay), for setAttrs or setFileAttrs.
func (a attrs) compare(fi fs.FileInfo, c *change) (mode int64, uid, gid int) {
	cur := int64(unixMode(fi.Mode()))
	mode, uid, gid = cur, -1, -1
	if a.mode >= 0 && fi.Mode()&fs.ModeSymlink == 0 {
		c.set("mode", modeString(cur), modeString(a.mode))
		mode = a.mode
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode, a.uid, a.gid
	}
	if a.uid >= 0 && uint32(a.uid) != st.Uid {
		c.set("owner", userName(st.Uid), userName(uint32(a.uid)))
		uid = a.uid
	}
	if a.gid >= 0 && uint32(a.gid) != st.Gid {
		c.set("group", groupName(st.Gid), groupName(uint32(a.gid)))
		gid = a.gid
	}
	return mode, uid, gid
}
