//go:build !linux

package chunk

func pageAligned(n int) []byte { return make([]byte, n) }

// dropPages cannot give pages up here (see chunk_linux.go).
func dropPages([]byte) bool { return false }
