package plan

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/mod/sumdb/dirhash"
)

// LockFileName is the lock file beside the root module. It pins each git
// module source to a commit and a hash of its files; check it in.
const LockFileName = "chopplan.lock.hcl"

// LockFile is the content of the lock file.
type LockFile struct {
	Modules map[string]LockedModule // by source
}

// LockedModule pins one git module source.
type LockedModule struct {
	Source string
	Commit string
	// Hash is the "h1:" hash (as Go modules use) of the module's files,
	// .git excluded.
	Hash string
}

var lockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "module", LabelNames: []string{"source"}}}}
var lockedSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "commit", Required: true}, {Name: "hash", Required: true}}}

func (l *loader) readLock() (*LockFile, hcl.Diagnostics) {
	lock := &LockFile{Modules: map[string]LockedModule{}}
	src, err := os.ReadFile(l.opts.LockFile)
	if os.IsNotExist(err) {
		return lock, nil
	}
	if err != nil {
		return lock, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Cannot read lock file",
			Detail: fmt.Sprintf("The lock file %s cannot be read: %s.", l.opts.LockFile, errText(err)),
		}}
	}
	f, diags := l.parser.ParseHCL(src, l.opts.LockFile)
	if diags.HasErrors() {
		return lock, diags
	}
	content, d := f.Body.Content(lockSchema)
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		c, d := b.Body.Content(lockedSchema)
		diags = append(diags, d...)
		m := LockedModule{Source: b.Labels[0]}
		if a := c.Attributes["commit"]; a != nil {
			diags = append(diags, literalString(a, &m.Commit)...)
		}
		if a := c.Attributes["hash"]; a != nil {
			diags = append(diags, literalString(a, &m.Hash)...)
		}
		lock.Modules[m.Source] = m
	}
	return lock, diags
}

// Bytes renders the lock file.
func (lf *LockFile) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	var sources []string
	for s := range lf.Modules {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	for i, s := range sources {
		if i > 0 {
			body.AppendNewline()
		}
		m := lf.Modules[s]
		b := body.AppendNewBlock("module", []string{s}).Body()
		b.SetAttributeValue("commit", cty.StringVal(m.Commit))
		b.SetAttributeValue("hash", cty.StringVal(m.Hash))
	}
	return append([]byte("# Written by `chopplan init`: pins each git module. Check it in.\n\n"), f.Bytes()...)
}

// HashDir hashes the files under dir (.git excluded) the way Go hashes
// module content: "h1:" and the base64 SHA-256 of a sorted file list with
// each file's SHA-256.
func HashDir(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
}

// lockedCommit is the commit the lock pins for source, if any.
func (lf *LockFile) lockedCommit(source string) string {
	if lf == nil {
		return ""
	}
	return strings.TrimSpace(lf.Modules[source].Commit)
}
