package tunnel

import (
	"archive/tar"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/zclconf/go-cty/cty"

	"github.com/chopplan/chopplan/agent"
)

// DockerAgentDir is where the agent is copied in a container. It is at
// the root of the container's own file system rather than in /tmp because
// the copy API cannot write into a tmpfs mount, and /tmp often is one.
const DockerAgentDir = "/.chopplan"

// DockerLabel marks every container chopplan creates, so leftovers (of a
// controller killed before it could remove them) are easy to find:
// `docker ps -a --filter label=chopplan=1`.
const DockerLabel = "chopplan"

// DockerOptions tune the docker kinds. The zero value (or nil) is ready to use.
type DockerOptions struct {
	// Host is the Docker daemon's address, as DOCKER_HOST takes it. Empty
	// means the environment (DOCKER_HOST, DOCKER_TLS_VERIFY,
	// DOCKER_CERT_PATH, DOCKER_API_VERSION), else the local socket.
	Host string
	// User runs the agent as this user (`docker exec -u`, `docker run -u`);
	// empty means the container's own user.
	User string
	// Env adds KEY=VALUE entries to the agent's environment, which the
	// commands it runs inherit.
	Env []string
	// Agent is the agent executable to ship. Empty means the controller's
	// agent for the image's OS and architecture (see AgentBinaries). It
	// must be statically linked to run in images without libc.
	Agent string

	// Keep leaves an image container in place (stopped) after Close,
	// for inspection; by default it is removed. Image containers only.
	Keep bool
	// Binds are volume bindings (`docker run -v`). Image containers only.
	Binds []string
	// Network is the network mode (`docker run --network`). Image containers only.
	Network string
}

func (o *DockerOptions) orZero() DockerOptions {
	if o == nil {
		return DockerOptions{}
	}
	return *o
}

// dockerKind is what the existing-container and image kinds share: the
// daemon connection, choosing and shipping the agent, and build checks.
type dockerKind struct {
	name string
	opts DockerOptions
	// build is the build ID of the agent last started, so the handshake
	// checks the agent it talks to is the one that was shipped.
	build atomic.Pointer[string]
}

func (d *dockerKind) Name() string { return d.name }

// ExpectedBuild is the build of the agent binary shipped by the last
// Start: it differs from the controller's own when the target runs another
// platform or Options.Agent names another executable.
func (d *dockerKind) ExpectedBuild() string {
	if b := d.build.Load(); b != nil {
		return *b
	}
	return agent.SelfBuild()
}

// dockerContainer starts the agent in an existing running container.
type dockerContainer struct {
	dockerKind
	container string
}

// DockerContainer returns the kind that runs the agent in an existing,
// running container (by name or id) through the Docker Engine API: the
// agent is copied in (once per agent build) and started with exec. The
// container needs no shell. opts may be nil.
func DockerContainer(name, containerRef string, opts *DockerOptions) Kind {
	if name == "" {
		name = containerRef
	}
	return &dockerContainer{dockerKind: dockerKind{name: name, opts: opts.orZero()}, container: containerRef}
}

// dockerImage starts the agent as the entrypoint of a new container.
type dockerImage struct {
	dockerKind
	image string
}

// DockerImage returns the kind that runs the agent in a new container of
// image: the container is created, the agent copied in, and the container
// started with the agent as its entrypoint, so images with no shell and no
// libc work. Each connection gets a fresh container, removed on Close (or
// by the daemon when the agent exits, should the controller die first)
// unless opts.Keep is set. The image must already be present: nothing is
// pulled. opts may be nil.
func DockerImage(name, imageRef string, opts *DockerOptions) Kind {
	if name == "" {
		name = imageRef
	}
	return &dockerImage{dockerKind: dockerKind{name: name, opts: opts.orZero()}, image: imageRef}
}

var (
	_ BuildExpecter = (*dockerContainer)(nil)
	_ BuildExpecter = (*dockerImage)(nil)
)

// Describe lets a via tunnel start this kind on a far agent.
func (d *dockerContainer) Describe() (string, cty.Value) {
	return "docker", d.describe(map[string]cty.Value{"container": cty.StringVal(d.container)})
}

// Describe lets a via tunnel start this kind on a far agent.
func (d *dockerImage) Describe() (string, cty.Value) {
	return "docker-image", d.describe(map[string]cty.Value{"image": cty.StringVal(d.image)})
}

// describe adds the common attributes. Agent is left out: a path on the
// controller means nothing on a far agent, which ships its own binaries.
func (d *dockerKind) describe(attrs map[string]cty.Value) cty.Value {
	strs := func(ss []string) cty.Value {
		if len(ss) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vs := make([]cty.Value, len(ss))
		for i, s := range ss {
			vs[i] = cty.StringVal(s)
		}
		return cty.ListVal(vs)
	}
	attrs["name"] = cty.StringVal(d.name)
	attrs["host"] = cty.StringVal(d.opts.Host)
	attrs["user"] = cty.StringVal(d.opts.User)
	attrs["env"] = strs(d.opts.Env)
	attrs["keep"] = cty.BoolVal(d.opts.Keep)
	attrs["binds"] = strs(d.opts.Binds)
	attrs["network"] = cty.StringVal(d.opts.Network)
	return cty.ObjectVal(attrs)
}

func init() {
	RegisterKind("docker", func(args cty.Value) (Kind, error) { return dockerFromDescription("docker", args) })
	RegisterKind("docker-image", func(args cty.Value) (Kind, error) { return dockerFromDescription("docker-image", args) })
}

// dockerFromDescription re-creates a docker kind ("docker" or
// "docker-image") from what its Describe returned.
func dockerFromDescription(kind string, args cty.Value) (Kind, error) {
	strs := func(k string) []string {
		if args == cty.NilVal || args.IsNull() || !args.Type().IsObjectType() || !args.Type().HasAttribute(k) {
			return nil
		}
		v := args.GetAttr(k)
		if v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
			return nil
		}
		var out []string
		for _, e := range v.AsValueSlice() {
			if e.Type() == cty.String && e.IsKnown() && !e.IsNull() {
				out = append(out, e.AsString())
			}
		}
		return out
	}
	opts := &DockerOptions{
		Host: stringArg(args, "host"), User: stringArg(args, "user"), Env: strs("env"),
		Binds: strs("binds"), Network: stringArg(args, "network"),
	}
	if args != cty.NilVal && !args.IsNull() && args.Type().IsObjectType() && args.Type().HasAttribute("keep") {
		if v := args.GetAttr("keep"); v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() {
			opts.Keep = v.True()
		}
	}
	name := stringArg(args, "name")
	switch kind {
	case "docker":
		if stringArg(args, "container") == "" {
			return nil, errors.New("docker: description names no container")
		}
		return DockerContainer(name, stringArg(args, "container"), opts), nil
	default:
		if stringArg(args, "image") == "" {
			return nil, errors.New("docker: description names no image")
		}
		return DockerImage(name, stringArg(args, "image"), opts), nil
	}
}

// Start copies the agent into the container unless it is there already,
// and starts it with exec.
func (d *dockerContainer) Start(ctx context.Context, env *StartEnv) (Stream, error) {
	cli, err := dockerClient(d.opts.Host)
	if err != nil {
		return nil, err
	}
	info, err := cli.ContainerInspect(ctx, d.container)
	if err != nil {
		return nil, dockerError(cli, fmt.Sprintf("container %q", d.container), err)
	}
	if info.State == nil || !info.State.Running || info.State.Paused {
		status := "unknown"
		if info.State != nil {
			status = info.State.Status
		}
		return nil, fmt.Errorf("docker: container %q is not running (status %s)", d.container, status)
	}
	bin, err := d.agentFor(ctx, cli, info.Image, env)
	if err != nil {
		return nil, err
	}
	if err := checkLoader(ctx, cli, info.ID, bin); err != nil {
		return nil, err
	}
	path, err := ensureAgent(ctx, cli, info.ID, bin)
	if err != nil {
		return nil, err
	}
	exec, err := cli.ContainerExecCreate(ctx, info.ID, container.ExecOptions{
		User: d.opts.User, Env: d.opts.Env, Cmd: AgentArgv(path),
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, dockerError(cli, "creating the agent's exec in "+d.container, err)
	}
	resp, err := hijack(ctx, func() (types.HijackedResponse, error) {
		return cli.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	})
	if err != nil {
		return nil, dockerError(cli, "starting the agent in "+d.container, err)
	}
	// An agent that cannot run at all (say, built for another
	// architecture) shows up only as an exec that exits at once: its error
	// comes through the agent's stderr and the failed handshake.
	return newDockerStream(resp, env.Stderr, nil), nil
}

// Start creates a container of the image, copies the agent in, attaches
// to it and starts it.
func (d *dockerImage) Start(ctx context.Context, env *StartEnv) (_ Stream, err error) {
	cli, err := dockerClient(d.opts.Host)
	if err != nil {
		return nil, err
	}
	img, err := cli.ImageInspect(ctx, d.image)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker: image %q is not present on the daemon (chopplan does not pull images: run `docker pull %s`)", d.image, d.image)
		}
		return nil, dockerError(cli, fmt.Sprintf("image %q", d.image), err)
	}
	bin, err := d.agentFor(ctx, cli, img.ID, env)
	if err != nil {
		return nil, err
	}
	path := dockerAgentPath(bin)
	hostname, _ := os.Hostname()
	name := dockerContainerName(d.name)
	created, err := cli.ContainerCreate(ctx, &container.Config{
		Image:      img.ID,
		Entrypoint: AgentArgv(path),
		User:       d.opts.User,
		Env:        d.opts.Env,
		OpenStdin:  true, StdinOnce: true,
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Labels: map[string]string{
			DockerLabel:              "1",
			DockerLabel + ".host":    d.name,
			DockerLabel + ".image":   d.image,
			DockerLabel + ".started": fmt.Sprintf("%s:%d", hostname, os.Getpid()),
		},
	}, &container.HostConfig{
		// The daemon removes the container when the agent exits, which
		// it does when the controller's connection goes away: a killed
		// controller leaves nothing behind.
		AutoRemove:  !d.opts.Keep,
		Binds:       d.opts.Binds,
		NetworkMode: container.NetworkMode(d.opts.Network),
	}, nil, nil, name)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled, the daemon may have made it all the same, and
			// one never started is not removed by AutoRemove.
			removeCreated(cli, name)
		}
		return nil, dockerError(cli, fmt.Sprintf("creating a container of %q", d.image), err)
	}
	id := created.ID
	defer func() {
		if err != nil {
			removeContainer(cli, id)
		}
	}()
	if err := checkLoader(ctx, cli, id, bin); err != nil {
		return nil, err
	}
	if err := copyAgent(ctx, cli, id, bin); err != nil {
		return nil, err
	}
	// Attach before start, so no early output of the agent is lost.
	resp, err := hijack(ctx, func() (types.HijackedResponse, error) {
		return cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	})
	if err != nil {
		return nil, dockerError(cli, "attaching to the agent's container", err)
	}
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		resp.Close()
		return nil, dockerError(cli, fmt.Sprintf("starting the agent in a container of %q", d.image), err)
	}
	var cleanup func() error
	if !d.opts.Keep {
		cleanup = func() error { return removeContainer(cli, id) }
	}
	return newDockerStream(resp, env.Stderr, cleanup), nil
}

// dockerAgent is an agent executable to ship into containers.
type dockerAgent struct {
	path string
	size int64
	// key names the agent's file in containers. It is a hash of the Go
	// build ID, which the linker derives from the binary's content: reading
	// it costs nothing, where hashing the whole file costs tens of
	// milliseconds on every run of a short command. Executables without a
	// build ID are named by the sha256 of their content.
	key string
	// interp is the dynamic loader the agent needs, "" for a static one.
	interp string
}

// agentFor picks the agent for the OS and architecture of image (an
// image id), or the one DockerOptions.Agent names, and records its build
// for the handshake.
func (d *dockerKind) agentFor(ctx context.Context, cli *client.Client, imageID string, env *StartEnv) (*dockerAgent, error) {
	path := d.opts.Agent
	if path == "" {
		goos, goarch, err := imagePlatform(ctx, cli, imageID)
		if err != nil {
			return nil, err
		}
		if goos == runtime.GOOS && goarch == runtime.GOARCH {
			if path, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("docker: finding own executable: %w", err)
			}
		} else {
			bin, err := env.Agents.For(goos, goarch)
			if err != nil {
				return nil, err
			}
			path = bin.Path
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("docker: agent binary: %w", err)
	}
	a := &dockerAgent{path: path, size: st.Size(), interp: elfInterpreter(path)}
	build := agent.BuildID(path)
	if build != "" {
		sum := sha256.Sum256([]byte(build))
		a.key = hex.EncodeToString(sum[:16])
	} else {
		bin, err := hashBinary(path)
		if err != nil {
			return nil, err
		}
		a.key = bin.SHA256
	}
	d.build.Store(&build)
	return a, nil
}

// platforms caches image id → "os/arch": an image's platform never
// changes, and asking costs a round trip on every connection.
var platforms sync.Map

func imagePlatform(ctx context.Context, cli *client.Client, imageID string) (goos, goarch string, err error) {
	if p, ok := platforms.Load(imageID); ok {
		goos, goarch, _ = strings.Cut(p.(string), "/")
		return goos, goarch, nil
	}
	img, err := cli.ImageInspect(ctx, imageID)
	if err != nil {
		return "", "", dockerError(cli, "inspecting image "+imageID, err)
	}
	goos, goarch = img.Os, img.Architecture
	// Images made by `docker import` without a platform may leave these
	// empty; the daemon then runs them as its own platform.
	if goos == "" || goarch == "" {
		v, err := cli.ServerVersion(ctx)
		if err != nil {
			return "", "", dockerError(cli, "asking the daemon's platform", err)
		}
		goos, goarch = v.Os, v.Arch
	}
	platforms.Store(imageID, goos+"/"+goarch)
	return goos, goarch, nil
}

// dockerAgentPath is where bin lives in a container: named by its
// content, so a container keeps one copy per agent build and a new build
// never overwrites a running one.
func dockerAgentPath(bin *dockerAgent) string {
	return DockerAgentDir + "/agent-" + bin.key
}

// copyLocks serialises shipping the same agent to the same container
// from this process, so concurrent tunnels to one container copy it once.
// An entry lives only while someone holds or waits for it, so a process
// that reaches many throwaway containers does not collect them.
var (
	copyLocksMu sync.Mutex
	copyLocks   = map[string]*copyLock{} // containerID + "/" + agent key
)

type copyLock struct {
	mu    sync.Mutex
	users int
}

// lockCopy takes the lock for key and returns its release.
func lockCopy(key string) (unlock func()) {
	copyLocksMu.Lock()
	l := copyLocks[key]
	if l == nil {
		l = &copyLock{}
		copyLocks[key] = l
	}
	l.users++
	copyLocksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		copyLocksMu.Lock()
		if l.users--; l.users == 0 {
			delete(copyLocks, key)
		}
		copyLocksMu.Unlock()
	}
}

// ensureAgent copies bin into the running container id unless a file of
// the same name and size is already there, and returns its path.
func ensureAgent(ctx context.Context, cli *client.Client, id string, bin *dockerAgent) (string, error) {
	path := dockerAgentPath(bin)
	defer lockCopy(id + "/" + bin.key)()
	st, err := cli.ContainerStatPath(ctx, id, path)
	switch {
	case err == nil && st.Size == bin.size && st.Mode.IsRegular():
		return path, nil
	case err != nil && !cerrdefs.IsNotFound(err):
		return "", dockerError(cli, "looking for the agent in the container", err)
	}
	// Missing, or a partial copy from an interrupted run: (re)copy. The
	// daemon unlinks the old file before writing, so an agent still
	// running from it is not disturbed.
	return path, copyAgent(ctx, cli, id, bin)
}

// copyAgent sends bin into container id at dockerAgentPath(bin) with the
// copy API, as a tar stream made on the fly (never whole in memory).
func copyAgent(ctx context.Context, cli *client.Client, id string, bin *dockerAgent) error {
	f, err := os.Open(bin.path)
	if err != nil {
		return fmt.Errorf("docker: agent binary: %w", err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		now := time.Now()
		dir := strings.TrimPrefix(DockerAgentDir, "/")
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: now})
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dockerAgentPath(bin), "/"), Mode: 0o755, Size: bin.size, ModTime: now})
		}
		if err == nil {
			_, err = io.CopyN(tw, f, bin.size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = cli.CopyToContainer(ctx, id, "/", pr, container.CopyToContainerOptions{})
	pr.CloseWithError(errors.New("copy ended")) // unblocks the writer if the daemon stopped reading
	if err != nil {
		return dockerError(cli, "copying the agent into the container", err)
	}
	return nil
}

// removeCreated removes the container name whose create was cancelled in
// flight: the daemon may register it a moment later (while it still
// makes its layer), so one not found is looked for again, for 2 s.
func removeCreated(cli *client.Client, name string) {
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.ContainerInspect(ctx, name)
		cancel()
		switch {
		case err == nil:
			removeContainer(cli, name)
			return
		case !cerrdefs.IsNotFound(err):
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeContainer removes container id, killing it if it still runs.
// A container the daemon is already removing (AutoRemove) is waited for,
// so that the container is gone when Close returns.
func removeContainer(cli *client.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already in progress") {
		return dockerError(cli, "removing container "+shortID(id), err)
	}
	for {
		_, ierr := cli.ContainerInspect(ctx, id)
		if cerrdefs.IsNotFound(ierr) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("docker: container %s still present after removal: %w", shortID(id), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// dockerContainerName makes a unique, recognisable container name for host.
func dockerContainerName(host string) string {
	b := make([]byte, 4)
	rand.Read(b)
	safe := strings.Trim(nameUnsafe.ReplaceAllString(host, "-"), "-.")
	if len(safe) > 40 {
		safe = safe[:40]
	}
	if safe == "" {
		return "chopplan-" + hex.EncodeToString(b)
	}
	return "chopplan-" + safe + "-" + hex.EncodeToString(b)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// dockerError names what failed, and says plainly when no daemon answers
// at all, which is what a user most often has to fix.
func dockerError(cli *client.Client, what string, err error) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("docker: no Docker daemon answers at %s (is it running? DOCKER_HOST chooses another): %w", cli.DaemonHost(), err)
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: %s not found: %w", what, err)
	}
	return fmt.Errorf("docker: %s: %w", what, err)
}

// checkLoader fails early, and says why, when a dynamically linked agent
// meets a container without its loader: exec would only report "no such
// file or directory" about a file that is plainly there.
func checkLoader(ctx context.Context, cli *client.Client, id string, bin *dockerAgent) error {
	if bin.interp == "" {
		return nil
	}
	_, err := cli.ContainerStatPath(ctx, id, bin.interp)
	if err == nil {
		return nil
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: the agent %s is dynamically linked and the container has no %s to load it: ship a static agent (built with CGO_ENABLED=0, as `make build` does)", bin.path, bin.interp)
	}
	return dockerError(cli, "looking for the agent's loader in the container", err)
}

// elfInterpreter returns the program interpreter (the dynamic loader) the
// ELF executable at path asks for, or "" for a static executable.
func elfInterpreter(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

// dockerClients holds one client per daemon address: a client is safe
// for concurrent use and keeps its connections and negotiated version.
var dockerClients struct {
	sync.Mutex
	m map[string]*client.Client
}

// dockerClient returns the client for host ("" meaning the environment).
// An ssh:// daemon is refused with what to do instead: the Engine API's
// client has no SSH transport of its own (the docker CLI runs `ssh HOST
// docker system dial-stdio` for it), and without one it would dial the
// host name as TCP and blame a daemon that is not running.
func dockerClient(host string) (*client.Client, error) {
	if h := cmp.Or(host, os.Getenv(client.EnvOverrideHost)); strings.HasPrefix(h, "ssh://") {
		return nil, fmt.Errorf("docker: %s: a daemon over ssh:// is not supported. "+
			"Forward its socket (ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock HOST, then DOCKER_HOST=unix:///tmp/docker.sock), "+
			"or reach the containers through the host: exec://ssh HOST docker exec -i CONTAINER sh", h)
	}
	key := host
	if key == "" {
		key = "env:" + strings.Join([]string{os.Getenv(client.EnvOverrideHost), os.Getenv(client.EnvOverrideAPIVersion),
			os.Getenv(client.EnvOverrideCertPath), os.Getenv(client.EnvTLSVerify)}, "|")
	}
	dockerClients.Lock()
	defer dockerClients.Unlock()
	if c, ok := dockerClients.m[key]; ok {
		return c, nil
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client for %q: %w", host, err)
	}
	if dockerClients.m == nil {
		dockerClients.m = map[string]*client.Client{}
	}
	dockerClients.m[key] = c
	return c, nil
}

// hijack makes an attaching call, which heeds ctx only while it dials: a
// daemon that takes the connection and never answers the upgrade would
// hold it past the connect timeout. A connection the call makes after ctx
// ended is closed.
func hijack(ctx context.Context, call func() (types.HijackedResponse, error)) (types.HijackedResponse, error) {
	type result struct {
		resp types.HijackedResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := call()
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				r.resp.Close()
			}
		}()
		return types.HijackedResponse{}, ctx.Err()
	}
}

// dockerStream is an agent attached through the Engine API: writes go to
// the hijacked connection (the agent's stdin), and the multiplexed
// stdout/stderr coming back is split by stdcopy.
type dockerStream struct {
	resp    types.HijackedResponse
	stdout  *io.PipeReader
	done    chan struct{} // closed when the agent's output has ended
	cleanup func() error

	once     sync.Once
	closeErr error
}

func newDockerStream(resp types.HijackedResponse, stderr io.Writer, cleanup func() error) *dockerStream {
	pr, pw := io.Pipe()
	s := &dockerStream{resp: resp, stdout: pr, done: make(chan struct{}), cleanup: cleanup}
	go func() {
		defer close(s.done)
		_, err := stdcopy.StdCopy(drainingWriter{pw}, stderr, resp.Reader)
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	return s
}

func (s *dockerStream) Read(p []byte) (int, error)  { return s.stdout.Read(p) }
func (s *dockerStream) Write(p []byte) (int, error) { return s.resp.Conn.Write(p) }

// Close ends the agent: end of input first (the agent then kills what it
// started and exits), then, once its output has ended or the grace has
// passed, the connection, and for an image container the container.
func (s *dockerStream) Close() error {
	s.once.Do(func() {
		// A connection that cannot half-close (CloseWrite is then a
		// no-op) still ends the agent's input when it is closed below.
		s.resp.CloseWrite()
		s.stdout.Close()
		select {
		case <-s.done:
		case <-time.After(closeGrace):
		}
		s.resp.Close()
		<-s.done
		if s.cleanup != nil {
			s.closeErr = s.cleanup()
		}
	})
	return s.closeErr
}

// drainingWriter passes the agent's stdout to the stream's reader until
// the stream is closed, then discards it: the output must still be read
// to learn when the agent has exited.
type drainingWriter struct{ pw *io.PipeWriter }

func (w drainingWriter) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	if errors.Is(err, io.ErrClosedPipe) {
		return len(p), nil
	}
	return n, err
}
