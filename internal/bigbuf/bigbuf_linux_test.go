package bigbuf

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// A large buffer's aligned interior is advised to use huge pages: the
// memory mapping that holds it reads as eligible in /proc/self/smaps,
// where the kernel offers huge pages on request at all.
func TestMakeAdvisesHugePages(t *testing.T) {
	mode, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if !strings.Contains(string(mode), "[madvise]") {
		t.Logf("transparent huge pages are %q here: the advice cannot be seen", strings.TrimSpace(string(mode)))
		return
	}
	b := Make(0, 4*threshold)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	addr := (start + hugePage - 1) &^ (hugePage - 1)
	if eligible, found := thpEligible(t, addr); !found || !eligible {
		t.Fatalf("the mapping holding %#x: found %v, eligible for huge pages %v", addr, found, eligible)
	}
}

// thpEligible reads /proc/self/smaps for the mapping that holds addr.
func thpEligible(t *testing.T, addr uintptr) (eligible, found bool) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inside := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-"); ok && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				inside = uint64(addr) >= l && uint64(addr) < h
				continue
			}
		}
		if inside && strings.HasPrefix(line, "THPeligible:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "THPeligible:")) == "1", true
		}
	}
	return false, false
}
