package atomicfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// killedWriterEnv makes the test binary write half a file and die.
const killedWriterEnv = "ATOMICFILE_TEST_KILLED_WRITER"

func TestMain(m *testing.M) {
	if dest := os.Getenv(killedWriterEnv); dest != "" {
		f, err := Create(dest, 0o644)
		if err != nil {
			os.Exit(2)
		}
		f.Write([]byte("half of the new"))
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	os.Exit(m.Run())
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func TestCommitReplacesAbortKeeps(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "f")
	os.WriteFile(dest, []byte("old"), 0o600)

	f, err := Create(dest, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("discarded"))
	f.Abort()
	if b, _ := os.ReadFile(dest); string(b) != "old" {
		t.Fatalf("after Abort: %q", b)
	}

	if err := WriteFile(dest, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dest)
	fi, _ := os.Stat(dest)
	if string(b) != "new" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("after Commit: %q mode %v", b, fi.Mode())
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("directory holds %v", names)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}

func TestKilledWriterLeavesOldFileAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "f")
	os.WriteFile(dest, []byte("old"), 0o600)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killedWriterEnv+"="+dest)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer did not die by SIGKILL: %v", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "old" {
		t.Fatalf("dest = %q", b)
	}
	// Where O_TMPFILE works the half-written file never had a name.
	probe, err := Create(filepath.Join(dir, "probe"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	anonymous := probe.anonymous
	probe.Abort()
	if names := entries(t, dir); anonymous && len(names) != 1 {
		t.Fatalf("a killed writer left %v", names)
	}
}
