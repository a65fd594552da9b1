package builtins

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// FileResultType is the shape of the file builtin's result.
var FileResultType = cty.Object(map[string]cty.Type{
	"path": cty.String, "state": cty.String, "changed": cty.Bool, "diff": FileDiffType,
})

func init() {
	MustRegister(Spec{
		Name: "file",
		Doc: "Makes a path a file (with content when given), a directory, a symbolic link, or absent, " +
			"with the given mode and ownership. A file's content is written atomically. " +
			"The diff lists the attributes that change, before and after, and the content as a unified diff.",
		Args: append([]Arg{
			{Name: "path", Type: cty.String, Required: true, Doc: "the path to manage; a link at path is followed for state file and directory"},
			{Name: "state", Type: cty.String, Default: cty.StringVal("file"), Doc: `"file", "directory", "link", "touch" (an empty file when missing; an existing one is left as it is) or "absent" (a directory is removed with everything in it)`},
			{Name: "content", Type: cty.String, Doc: "the whole content of the file (state = file); null leaves an existing file's content alone and requires it to exist"},
			{Name: "src", Type: cty.String, Doc: "the target of the link (state = link), written as given: a relative target is relative to the link's directory"},
			{Name: "force", Type: cty.Bool, Default: cty.False, Doc: "state = link: replace a file or an empty directory at path with the link"},
		}, attrArgs()...),
		Result: FileResultType, CheckMode: true, Idempotent: true,
		Run: file,
	})
}

func file(cc agent.CallContext, args cty.Value) (cty.Value, error) {
	path, err := filepath.Abs(argString(args, "path"))
	if err != nil {
		return cty.NilVal, err
	}
	state := argString(args, "state")
	a, err := readAttrs(args)
	if err != nil {
		return cty.NilVal, err
	}
	content := args.GetAttr("content")
	if !content.IsNull() && state != "file" {
		return cty.NilVal, fmt.Errorf("content is only for state = \"file\", not %q", state)
	}
	if src := argString(args, "src"); src != "" && state != "link" {
		return cty.NilVal, fmt.Errorf("src is only for state = \"link\", not %q", state)
	}
	c := newChange()
	switch state {
	case "file", "touch":
		w := fileWant{attrs: a, create: state == "touch"}
		if !content.IsNull() {
			w.content, w.manage, w.create = []byte(content.AsString()), true, true
		}
		_, err = ensureFile(cc.Check(), path, w, c)
	case "directory":
		err = ensureDir(cc.Check(), path, a, c)
	case "link":
		err = ensureLink(cc.Check(), path, argString(args, "src"), argBool(args, "force"), a, c)
	case "absent":
		if a.given() {
			return cty.NilVal, errors.New("mode, owner and group do not apply to state = \"absent\"")
		}
		err = ensureAbsent(cc.Check(), path, c)
	default:
		return cty.NilVal, fmt.Errorf("state must be \"file\", \"directory\", \"link\", \"touch\" or \"absent\", not %q", state)
	}
	if err != nil {
		return cty.NilVal, err
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(path), "state": cty.StringVal(state), "changed": cty.BoolVal(c.changed()), "diff": c.value(),
	}), nil
}

func ensureDir(check bool, path string, a attrs, c *change) error {
	path, fi, err := resolveLink(path)
	if errors.Is(err, fs.ErrNotExist) {
		a.created(c, "directory", 0o755)
		if check {
			return nil
		}
		mode := a.mode
		if mode < 0 {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			return err
		}
		// Mkdir's mode passes through the umask; setAttrs sets it exactly.
		return setAttrs(path, fs.FileMode(mode), a.uid, a.gid)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a %s, not a directory", path, fileType(fi.Mode()))
	}
	mode, uid, gid := a.compare(fi, c)
	if check || !c.changed() {
		return nil
	}
	return setAttrs(path, fs.FileMode(mode), uid, gid)
}

func ensureLink(check bool, path, src string, force bool, a attrs, c *change) error {
	if src == "" {
		return errors.New("state = \"link\" needs src, the link's target")
	}
	if a.mode >= 0 {
		return errors.New("mode does not apply to a link (Linux has no link permissions); set it on the target")
	}
	fi, err := os.Lstat(path)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case missing:
		a.created(c, "link", 0)
		c.set("src", "", src)
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		old, err := os.Readlink(path)
		if err != nil {
			return err
		}
		c.set("src", old, src)
		a.compare(fi, c)
	case !force:
		return fmt.Errorf("%s is a %s; set force = true to replace it with a link", path, fileType(fi.Mode()))
	default:
		if fi.IsDir() {
			if entries, err := os.ReadDir(path); err != nil || len(entries) > 0 {
				return fmt.Errorf("%s is a directory that is not empty; it is not replaced by a link", path)
			}
		}
		c.set("state", fileType(fi.Mode()), "link")
		c.set("src", "", src)
		if a.uid >= 0 {
			c.after["owner"] = userName(uint32(a.uid))
		}
		if a.gid >= 0 {
			c.after["group"] = groupName(uint32(a.gid))
		}
	}
	if check || !c.changed() {
		return nil
	}
	if _, retarget := c.after["src"]; !retarget && !missing {
		return os.Lchown(path, a.uid, a.gid)
	}
	// A new link made beside the old path and renamed over it: readers see
	// the old target or the new, never no link.
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(path), ".chopplan-link-"+hex.EncodeToString(rnd[:]))
	if err := os.Symlink(src, tmp); err != nil {
		return err
	}
	if a.uid >= 0 || a.gid >= 0 {
		if err := os.Lchown(tmp, a.uid, a.gid); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if !missing && fi.IsDir() {
		// rename cannot put a link over a directory, even an empty one.
		if err := os.Remove(path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func ensureAbsent(check bool, path string, c *change) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	c.set("state", fileType(fi.Mode()), "absent")
	switch {
	case fi.Mode().IsRegular() && fi.Size() <= maxDiffSize:
		if old, err := os.ReadFile(path); err == nil {
			c.content = contentDiff(path, old, true, nil, false)
		}
	case fi.Mode().IsRegular():
		c.content = largeDiff(path, "/dev/null", fi.Size(), 0)
	case fi.Mode()&fs.ModeSymlink != 0:
		old, _ := os.Readlink(path)
		c.set("src", old, "")
	}
	if check {
		return nil
	}
	return os.RemoveAll(path)
}
