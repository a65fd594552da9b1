package agent

import (
	"debug/elf"
	"os"
	"sync"
)

// Version is chopplan's release version, stamped by `make build`.
var Version = "dev"

var (
	selfBuildOnce sync.Once
	selfBuild     string
)

// SelfBuild is the build identity of the running executable: the Go build
// ID the linker records in the binary, which changes with any change to
// its content. It is cheap to read, unlike a hash of the whole file.
func SelfBuild() string {
	selfBuildOnce.Do(func() {
		if exe, err := os.Executable(); err == nil {
			selfBuild = BuildID(exe)
		}
		if selfBuild == "" {
			selfBuild = "unknown-" + Version
		}
	})
	return selfBuild
}

// BuildID reads the Go build ID note of an ELF executable, or "" if it has none.
func BuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	// The note is: namesz, descsz, type (4 bytes each), "Go\x00\x00", then the ID.
	if err != nil || len(data) < 16 {
		return ""
	}
	descsz := int(f.ByteOrder.Uint32(data[4:8]))
	if 16+descsz > len(data) {
		return ""
	}
	return string(data[16 : 16+descsz])
}
