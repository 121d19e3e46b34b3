package memtrim

import (
	"bufio"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const sampleMaps = `00400000-00401000 r--p 00000000 fe:01 1234   /usr/bin/pttagent
00401000-00900000 r-xp 00001000 fe:01 1234   /usr/bin/pttagent
00900000-00a00000 r--p 00500000 fe:01 1234   /usr/bin/pttagent
00a00000-00a10000 rw-p 00600000 fe:01 1234   /usr/bin/pttagent
00a10000-00b00000 rw-p 00000000 00:00 0
c000000000-c004000000 rw-p 00000000 00:00 0
7f0000000000-7f0000100000 r-xp 00000000 fe:01 99   /usr/lib/x86_64-linux-gnu/libopus.so.0.8.0
7f0000100000-7f0000200000 r--s 00000000 00:05 7    /dev/shm/ring
7f0000200000-7f0000300000 r-xp 00000000 fe:01 5    /opt/my agent/lib x.so (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0    [vdso]
garbage line
`

// Only private, read-only mappings of files are chosen: never memory the
// process wrote, shared mappings, the stack or the vDSO.
func TestReadOnlyFileMappings(t *testing.T) {
	got, err := readOnlyFileMappings([]byte(sampleMaps))
	if err != nil {
		t.Fatal(err)
	}
	want := []region{
		{0x400000, 0x401000, "/usr/bin/pttagent"},
		{0x401000, 0x900000, "/usr/bin/pttagent"},
		{0x900000, 0xa00000, "/usr/bin/pttagent"},
		{0x7f0000000000, 0x7f0000100000, "/usr/lib/x86_64-linux-gnu/libopus.so.0.8.0"},
		{0x7f0000200000, 0x7f0000300000, "/opt/my agent/lib x.so (deleted)"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d regions %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := readOnlyFileMappings([]byte("zz-00400000 r--p 0 fe:01 1 /bin/x\n")); err == nil {
		t.Error("a bad range was accepted")
	}
	if _, err := readOnlyFileMappings([]byte("00500000-00400000 r--p 0 fe:01 1 /bin/x\n")); err == nil {
		t.Error("an empty range was accepted")
	}
}

func FuzzReadOnlyFileMappings(f *testing.F) {
	f.Add([]byte(sampleMaps))
	f.Fuzz(func(t *testing.T, maps []byte) {
		regions, err := readOnlyFileMappings(maps)
		if err != nil {
			return
		}
		for _, r := range regions {
			if r.end <= r.start || !strings.HasPrefix(r.path, "/") {
				t.Fatalf("chose %+v", r)
			}
		}
	})
}

// exeRSS is how much of the running test binary is resident, from
// /proc/self/smaps.
func exeRSS(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if fs := strings.Fields(l); len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			in = len(fs) >= 6 && fs[5] == exe
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			kb += n
		}
	}
	return kb << 10
}

// The test binary's own pages go (no other process maps them), and the
// process runs on: what it needs comes back on demand.
func TestPageReturnsTheBinarysPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	before := exeRSS(t)
	r, err := Page()
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("this kernel has no MADV_PAGEOUT (Linux < 5.4): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	t.Logf("%v; test binary resident %.1f → %.1f MiB", r, mib(before), mib(after))
	if r.Mappings < 2 || r.Bytes < before {
		t.Errorf("advised %d mappings, %d bytes: the binary's text and read-only data should be among them", r.Mappings, r.Bytes)
	}
	if before < 1<<20 || after > before/2 {
		t.Errorf("test binary resident %d → %d bytes: want at least 1 MiB before and half of it gone", before, after)
	}
	if r.RSSBefore <= 0 || r.RSSAfter <= 0 || r.RSSAfter >= r.RSSBefore {
		t.Errorf("VmRSS %d → %d", r.RSSBefore, r.RSSAfter)
	}
}
