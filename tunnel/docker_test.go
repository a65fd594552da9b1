package tunnel_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/chopplan/chopplan/internal/testenv"
	"github.com/chopplan/chopplan/tunnel"
	"github.com/chopplan/chopplan/tunnel/tunneltest"
)

func TestDockerContainerContract(t *testing.T) {
	testenv.Docker(t)
	name := testenv.RunContainer(t, testenv.BusyboxImage(t))
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.DockerContainer("busybox", name, opts), tunnel.Options{Output: out})
		},
		Shell: true, Shared: true, Dir: "/tmp",
	})
}

func TestDockerImageContract(t *testing.T) {
	testenv.Docker(t)
	ref := testenv.BusyboxImage(t)
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.DockerImage("busybox-image", ref, opts), tunnel.Options{Output: out})
		},
		Shell: true, Shared: false, Dir: "/tmp",
	})
}

// TestDockerScratchContract runs the agent in an image with no shell and
// no libc: nothing but the agent (copied in) and an empty /tmp.
func TestDockerScratchContract(t *testing.T) {
	testenv.Docker(t)
	ref := testenv.EmptyImage(t)
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}
	tunneltest.Run(t, tunneltest.Target{
		New: func(t *testing.T, out *tunneltest.SyncBuffer) *tunnel.Tunnel {
			return tunnel.New(tunnel.DockerImage("scratch", ref, opts), tunnel.Options{Output: out})
		},
		Shell: false, Shared: false, Dir: "/tmp",
	})
}

// imageContainers lists the containers chopplan made for host.
func imageContainers(t *testing.T, host string) []container.Summary {
	t.Helper()
	cs, err := testenv.Docker(t).ContainerList(context.Background(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", tunnel.DockerLabel+".host="+host)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestDockerImageRemovedOnClose(t *testing.T) {
	cli := testenv.Docker(t)
	ref := testenv.EmptyImage(t)
	host := "removed-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	tun := tunnel.New(tunnel.DockerImage(host, ref, &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
		t.Fatal(err)
	}
	cs := imageContainers(t, host)
	if len(cs) != 1 {
		t.Fatalf("%d containers for %s while connected, want 1", len(cs), host)
	}
	c := cs[0]
	if c.Labels[tunnel.DockerLabel] != "1" || !strings.HasPrefix(strings.TrimPrefix(c.Names[0], "/"), "chopplan-"+host+"-") {
		t.Fatalf("container %v labelled %v", c.Names, c.Labels)
	}
	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(context.Background(), c.ID); !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect after Close: %v, want not found", err)
	}
}

func TestDockerImageKeep(t *testing.T) {
	cli := testenv.Docker(t)
	ref := testenv.EmptyImage(t)
	host := "kept-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	tun := tunnel.New(tunnel.DockerImage(host, ref, &tunnel.DockerOptions{Agent: testenv.StaticAgent(t), Keep: true}), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	if _, err := tun.Call(context.Background(), "ping", nil); err != nil {
		t.Fatal(err)
	}
	cs := imageContainers(t, host)
	if len(cs) != 1 {
		t.Fatalf("%d containers for %s, want 1", len(cs), host)
	}
	t.Cleanup(func() { testenv.RemoveContainer(t, cs[0].ID) })
	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := cli.ContainerInspect(context.Background(), cs[0].ID)
	if err != nil {
		t.Fatalf("kept container: %v", err)
	}
	// The agent saw its input end and exited by itself.
	if info.State.Running || info.State.ExitCode != 0 {
		t.Fatalf("kept container state %+v, want exited with status 0", info.State)
	}
}

func TestDockerDaemonAbsent(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-such-docker.sock")
	for _, kind := range []tunnel.Kind{
		tunnel.DockerContainer("c", "anything", nil),
		tunnel.DockerImage("i", "anything", nil),
	} {
		tun := tunnel.New(kind, tunnel.Options{Output: &tunneltest.SyncBuffer{}})
		err := tun.Connect(context.Background())
		var ue *tunnel.UnreachableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no Docker daemon answers at unix://") {
			t.Fatalf("%s with no daemon: %v", kind.Name(), err)
		}
	}
}

func TestDockerContainerMissingOrStopped(t *testing.T) {
	cli := testenv.Docker(t)
	tun := tunnel.New(tunnel.DockerContainer("", "chopplan-no-such-container", nil), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	if err := tun.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), `container "chopplan-no-such-container" not found`) {
		t.Fatalf("missing container: %v", err)
	}
	name := testenv.RunContainer(t, testenv.BusyboxImage(t))
	if err := cli.ContainerStop(context.Background(), name, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	tun = tunnel.New(tunnel.DockerContainer("", name, nil), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	if err := tun.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "is not running (status exited)") {
		t.Fatalf("stopped container: %v", err)
	}
}

func TestDockerImageNotPresent(t *testing.T) {
	testenv.Docker(t)
	tun := tunnel.New(tunnel.DockerImage("", "chopplan-test:no-such-tag", nil), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	if err := tun.Connect(context.Background()); err == nil || !strings.Contains(err.Error(), "does not pull") {
		t.Fatalf("missing image: %v", err)
	}
}

// TestDockerAgentCopiedOnce checks, through the daemon's own record of
// archive extractions, that a second connection reuses the agent already
// in the container.
func TestDockerAgentCopiedOnce(t *testing.T) {
	cli := testenv.Docker(t)
	name := testenv.RunContainer(t, testenv.BusyboxImage(t))
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(t)}
	ctx := context.Background()
	info, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second)
	for i := range 3 {
		tun := tunnel.New(tunnel.DockerContainer("", name, opts), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
		if _, err := tun.Call(ctx, "ping", nil); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		tun.Close()
	}
	until := time.Now().Add(time.Second)
	msgs, errs := cli.Events(ctx, events.ListOptions{
		Since: since.Format(time.RFC3339Nano), Until: until.Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("container", info.ID), filters.Arg("event", "extract-to-dir")),
	})
	copies := 0
	for done := false; !done; {
		select {
		case <-msgs:
			copies++
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) && err.Error() != "EOF" {
				t.Fatal(err)
			}
			done = true
		}
	}
	if copies != 1 {
		t.Fatalf("agent copied %d times over 3 connections, want 1", copies)
	}
}

// BenchmarkDockerConnectCall measures connecting to a running container,
// one call and closing, against `docker exec CONTAINER true` in the same run.
func BenchmarkDockerConnectCall(b *testing.B) {
	testenv.Docker(b)
	name := testenv.RunContainer(b, testenv.BusyboxImage(b))
	opts := &tunnel.DockerOptions{Agent: testenv.StaticAgent(b)}
	ctx := context.Background()
	b.Run("chopplan", func(b *testing.B) {
		warm := tunnel.New(tunnel.DockerContainer("", name, opts), tunnel.Options{})
		if _, err := warm.Call(ctx, "ping", nil); err != nil { // the agent is cached from here on
			b.Fatal(err)
		}
		warm.Close()
		b.ResetTimer()
		for b.Loop() {
			tun := tunnel.New(tunnel.DockerContainer("", name, opts), tunnel.Options{})
			if _, err := tun.Call(ctx, "ping", nil); err != nil {
				b.Fatal(err)
			}
			tun.Close()
		}
	})
	b.Run("docker-exec", func(b *testing.B) {
		if _, err := exec.LookPath("docker"); err != nil {
			b.Skip("no docker CLI to compare with")
		}
		for b.Loop() {
			if out, err := exec.Command("docker", "exec", name, "true").CombinedOutput(); err != nil {
				b.Fatalf("docker exec: %v: %s", err, out)
			}
		}
	})
}

func TestParseDockerTarget(t *testing.T) {
	for _, tc := range []struct {
		in, kind, err string
		args          map[string]string
	}{
		{in: "docker://web", kind: "docker", args: map[string]string{"name": "web", "container": "web"}},
		{in: "docker://web?user=app", kind: "docker", args: map[string]string{"container": "web", "user": "app"}},
		{in: "docker-image://registry:5000/team/app:1.2@sha256:abc", kind: "docker-image", args: map[string]string{"image": "registry:5000/team/app:1.2@sha256:abc"}},
		{in: "docker-image://debian:bookworm?keep=true&network=host", kind: "docker-image", args: map[string]string{"image": "debian:bookworm", "network": "host"}},
		{in: "docker://", err: "names no container"},
		{in: "docker-image://x?keep=maybe", err: "is not true or false"},
		{in: "docker://web?keep=1", err: `unknown option "keep"`},
	} {
		k, err := tunnel.ParseTarget(tc.in, tunnel.TargetDefaults{})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		kind, args := k.(tunnel.Describer).Describe()
		if kind != tc.kind {
			t.Errorf("%s: kind %s, want %s", tc.in, kind, tc.kind)
		}
		for a, want := range tc.args {
			if got := args.GetAttr(a).AsString(); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.in, a, got, want)
			}
		}
		if strings.Contains(tc.in, "keep=true") != args.GetAttr("keep").True() {
			t.Errorf("%s: keep = %v", tc.in, args.GetAttr("keep"))
		}
		// The description re-creates an equal kind, as a via tunnel's near agent does.
		again, err := tunnel.NewKind(kind, args)
		if err != nil {
			t.Fatalf("%s: NewKind: %v", tc.in, err)
		}
		if _, args2 := again.(tunnel.Describer).Describe(); !args2.RawEquals(args) {
			t.Errorf("%s: re-created %#v, want %#v", tc.in, args2, args)
		}
	}
}

// TestDockerViaDocker starts a near agent in an image container that can
// reach the daemon, which starts the far agent in another, existing
// container: the far agent is the near one's own (static) binary.
func TestDockerViaDocker(t *testing.T) {
	cli := testenv.Docker(t)
	sock, ok := strings.CutPrefix(cli.DaemonHost(), "unix://")
	if !ok {
		t.Skipf("the daemon is at %s, not a unix socket a container could mount", cli.DaemonHost())
	}
	ref := testenv.BusyboxImage(t)
	name := testenv.RunContainer(t, ref)
	out := &tunneltest.SyncBuffer{}
	near := tunnel.New(tunnel.DockerImage("near", ref, &tunnel.DockerOptions{
		Agent: testenv.StaticAgent(t), Binds: []string{sock + ":/var/run/docker.sock"},
	}), tunnel.Options{Output: out})
	defer near.Close()
	far := tunnel.New(tunnel.Via(near, tunnel.DockerContainer("far", name, nil)), tunnel.Options{Output: out})
	defer far.Close()
	ctx := context.Background()
	nf, err := near.Call(ctx, "facts", nil)
	if err != nil {
		t.Fatal(err)
	}
	ff, err := far.Call(ctx, "facts", nil)
	if err != nil {
		t.Fatalf("far agent: %v (output: %s)", err, out)
	}
	peer, _ := far.Peer(ctx)
	if peer.Depth != 2 || ff.GetAttr("hostname").Equals(nf.GetAttr("hostname")).True() {
		t.Fatalf("far agent depth %d, hostname %s (near %s)", peer.Depth, ff.GetAttr("hostname").GoString(), nf.GetAttr("hostname").GoString())
	}
}

// TestDockerDynamicAgent ships a dynamically linked executable of this
// machine (/bin/true, whose loader busybox images lack): the error says
// why it cannot run instead of exec's bare "no such file or directory".
func TestDockerDynamicAgent(t *testing.T) {
	ref := testenv.BusyboxImage(t)
	name := testenv.RunContainer(t, ref)
	opts := &tunnel.DockerOptions{Agent: "/bin/true"}
	for _, kind := range []tunnel.Kind{tunnel.DockerContainer("", name, opts), tunnel.DockerImage("", ref, opts)} {
		err := tunnel.New(kind, tunnel.Options{Output: &tunneltest.SyncBuffer{}}).Connect(context.Background())
		if err == nil || !strings.Contains(err.Error(), "is dynamically linked and the container has no /lib") {
			t.Fatalf("%s: %v", kind.Name(), err)
		}
	}
}

// A daemon over ssh:// is refused saying what to do instead, not dialled
// as a TCP address and reported as not running.
func TestDockerOverSSHIsRefusedWithWhatToDo(t *testing.T) {
	t.Parallel()
	tun := tunnel.New(tunnel.DockerContainer("c", "web", &tunnel.DockerOptions{Host: "ssh://deploy@192.0.2.1"}), tunnel.Options{Output: &tunneltest.SyncBuffer{}})
	err := tun.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ssh:// is not supported") || !strings.Contains(err.Error(), "DOCKER_HOST=unix://") {
		t.Fatalf("docker over ssh://: %v", err)
	}
}
