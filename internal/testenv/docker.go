package testenv

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// TestImageRepo is the repository of the images tests build; their tags
// are content hashes, so a second run finds them and imports nothing.
const TestImageRepo = "chopplan-test"

var busyboxRequirement = requirement{
	component: "static busybox",
	commands:  []string{"/bin/busybox"},
	packages:  []string{"busybox-static"},
}

var (
	dockerOnce sync.Once
	dockerCli  *client.Client
	dockerErr  error
)

// Docker returns a client for the machine's Docker Engine (honouring
// DOCKER_HOST and the rest of the usual environment), or ends the test
// through Unavailable when no daemon answers.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	dockerOnce.Do(func() {
		c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = c.Ping(ctx)
		}
		dockerCli, dockerErr = c, err
	})
	if dockerErr != nil {
		Unavailable(t, "docker", dockerErr)
	}
	return dockerCli
}

// ImageFile is one entry of an image built by ScratchImage.
type ImageFile struct {
	// Src is a file on this machine to copy; empty for a directory or a symlink.
	Src string
	// Mode holds the permission bits and, for a directory or a symlink,
	// os.ModeDir or os.ModeSymlink.
	Mode os.FileMode
	// Link is a symlink's target.
	Link string
}

// ScratchImage imports an image holding only files (keyed by their path
// in the image), the equivalent of a FROM scratch Dockerfile with COPY
// lines, and returns its reference. Parent directories are added as 0755.
// The tag is a hash of the content, so an image already imported is reused.
func ScratchImage(t testing.TB, files map[string]ImageFile) string {
	t.Helper()
	cli := Docker(t)
	tag, err := contentTag(files)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ref := TestImageRepo + ":" + tag
	ctx := context.Background()
	err = withMachineLock("docker-image", func() error {
		if _, err := cli.ImageInspect(ctx, ref); err == nil {
			return nil
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeImageTar(pw, files)) }()
		rc, err := cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{})
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return fmt.Errorf("importing %s: %w", ref, err)
		}
		defer rc.Close()
		out, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("importing %s: %w", ref, err)
		}
		if strings.Contains(string(out), `"error"`) {
			return fmt.Errorf("importing %s: %s", ref, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return ref
}

// contentTag hashes the image's paths, modes, link targets and file
// contents.
func contentTag(files map[string]ImageFile) (string, error) {
	h := sha256.New()
	for _, p := range sortedPaths(files) {
		f := files[p]
		fmt.Fprintf(h, "%s\x00%o\x00%s\x00", p, uint32(f.Mode), f.Link)
		if f.Src != "" {
			r, err := os.Open(f.Src)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

func sortedPaths(files map[string]ImageFile) []string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// writeImageTar writes files as a root file system tar, parents first.
func writeImageTar(w io.Writer, files map[string]ImageFile) error {
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	var dirs func(p string) error
	dirs = func(p string) error {
		parent := filepath.Dir(p)
		if parent == "/" || parent == "." || written[parent] {
			return nil
		}
		if err := dirs(parent); err != nil {
			return err
		}
		written[parent] = true
		mode := int64(0o755)
		if f, ok := files[parent]; ok {
			mode = int64(f.Mode.Perm() | f.Mode&os.ModeSticky)
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(parent, "/") + "/", Mode: tarMode(os.FileMode(mode))})
	}
	for _, p := range sortedPaths(files) {
		f := files[p]
		if err := dirs(p); err != nil {
			return err
		}
		if written[p] {
			continue
		}
		written[p] = true
		name := strings.TrimPrefix(p, "/")
		switch {
		case f.Mode&os.ModeDir != 0:
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: tarMode(f.Mode)}); err != nil {
				return err
			}
		case f.Mode&os.ModeSymlink != 0:
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.Link, Mode: 0o777}); err != nil {
				return err
			}
		default:
			r, err := os.Open(f.Src)
			if err != nil {
				return err
			}
			st, err := r.Stat()
			if err == nil {
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: tarMode(f.Mode), Size: st.Size()})
			}
			if err == nil {
				_, err = io.Copy(tw, r)
			}
			r.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// tarMode turns permission and sticky bits into tar's mode field.
func tarMode(m os.FileMode) int64 {
	mode := int64(m.Perm())
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// BusyboxImage returns an image holding Debian's static busybox as
// /bin/busybox, every applet as a symlink to it in /bin, and a /tmp: a
// shell and the usual commands with no libc. busybox-static is installed
// with apt when missing and the test runs as root.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	Docker(t)
	ensure(t, busyboxRequirement)
	if isDynamic("/bin/busybox") {
		Unavailable(t, "static busybox", fmt.Errorf("/bin/busybox is dynamically linked (Debian package busybox rather than busybox-static)"))
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("testenv: busybox --list: %v", err)
	}
	files := map[string]ImageFile{
		"/bin/busybox": {Src: "/bin/busybox", Mode: 0o755},
		"/tmp":         {Mode: os.ModeDir | os.ModeSticky | 0o777},
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" {
			files["/bin/"+applet] = ImageFile{Mode: os.ModeSymlink, Link: "busybox"}
		}
	}
	return ScratchImage(t, files)
}

// EmptyImage returns an image holding nothing but an empty /tmp (the one
// directory an agent needs for its temporary files): no shell, no libc.
func EmptyImage(t testing.TB) string {
	t.Helper()
	return ScratchImage(t, map[string]ImageFile{"/tmp": {Mode: os.ModeDir | os.ModeSticky | 0o777}})
}

// RunContainer starts a long-running container of ref with busybox's
// sleep as its command (so ref must be a BusyboxImage) and docker-init as
// PID 1 to reap orphans, removed when the test ends. It returns the
// container's name.
func RunContainer(t testing.TB, ref string) string {
	t.Helper()
	cli := Docker(t)
	ctx := context.Background()
	name := "chopplan-test-" + randomHex(4)
	init := true
	c, err := cli.ContainerCreate(ctx, &container.Config{
		Image: ref, Cmd: []string{"/bin/sleep", "2147483"},
		Labels: map[string]string{"chopplan": "1", "chopplan.test": t.Name()},
	}, &container.HostConfig{Init: &init}, nil, nil, name)
	if err != nil {
		t.Fatalf("testenv: creating a container of %s: %v", ref, err)
	}
	t.Cleanup(func() { RemoveContainer(t, c.ID) })
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("testenv: starting container %s: %v", name, err)
	}
	return name
}

// RemoveContainer removes a container, killing it first; one already gone is fine.
func RemoveContainer(t testing.TB, id string) {
	t.Helper()
	err := Docker(t).ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("testenv: removing container %s: %v", id, err)
	}
}

var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// StaticAgent returns a statically linked build of the running test
// binary, which containers without libc can run as their agent: the test
// binary itself when it is static (CGO_ENABLED=0), else the same test
// package built once more with CGO_ENABLED=0. `go test` links against
// libc by default whenever a C compiler is installed. It must be called
// from a test whose working directory is its package, as `go test` runs it.
func StaticAgent(t testing.TB) string {
	t.Helper()
	staticOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			staticErr = err
			return
		}
		if !isDynamic(exe) {
			staticPath = exe
			return
		}
		// One fixed place per package directory, replaced by rename, so
		// repeated runs do not pile up copies of the binary.
		wd, err := os.Getwd()
		if err != nil {
			staticErr = err
			return
		}
		sum := sha256.Sum256([]byte(wd))
		dir := filepath.Join(os.TempDir(), "chopplan-static-agents")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			staticErr = err
			return
		}
		final := filepath.Join(dir, filepath.Base(wd)+"-"+hex.EncodeToString(sum[:6])+".test")
		tmp := final + "." + randomHex(4)
		cmd := exec.Command("go", "test", "-c", "-o", tmp, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			staticErr = fmt.Errorf("building a static test agent (CGO_ENABLED=0 go test -c): %v: %s", err, tail(b, 600))
			return
		}
		if staticErr = os.Rename(tmp, final); staticErr == nil {
			staticPath = final
		}
	})
	if staticErr != nil {
		t.Fatalf("testenv: %v", staticErr)
	}
	return staticPath
}

// isDynamic reports whether the ELF executable at path needs the dynamic loader.
func isDynamic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
