package memtrim

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A shortened smaps: each mapping's header, then some of its fields.
const sampleSmaps = `00400000-00401000 r--p 00000000 fe:01 1234   /usr/bin/pttagent
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
00401000-00900000 r-xp 00001000 fe:01 1234   /usr/bin/pttagent
Rss:                4096 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00a00000-00a10000 rw-p 00600000 fe:01 1234   /usr/bin/pttagent
Anonymous:            64 kB
00a10000-00b00000 rw-p 00000000 00:00 0
Anonymous:           960 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:01 99   /usr/lib/x86_64-linux-gnu/libopus.so.0.8.0
Anonymous:             0 kB
7f0000100000-7f0000104000 r--p 00100000 fe:01 99   /usr/lib/x86_64-linux-gnu/libopus.so.0.8.0
Anonymous:             8 kB
7f0000104000-7f0000200000 r--s 00000000 00:05 7    /dev/shm/ring
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 fe:01 5    /opt/my agent/lib x.so (deleted)
Anonymous:             0 kB
7f0000300000-7f0000301000 r--p 00000000 fe:01 6    /usr/lib/no-anonymous-line.so
Rss:                   4 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
Anonymous:           132 kB
7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0    [vdso]
Anonymous:             0 kB
garbage line
`

// Only private, read-only file mappings with no page of the process's
// own are chosen: never memory the process wrote (RELRO, a COW page),
// shared mappings, the stack or the vDSO.
func TestCleanFileMappings(t *testing.T) {
	got, skipped, err := cleanFileMappings(strings.NewReader(sampleSmaps))
	if err != nil {
		t.Fatal(err)
	}
	want := []region{
		{0x400000, 0x401000, "/usr/bin/pttagent"},
		{0x401000, 0x900000, "/usr/bin/pttagent"},
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
	if skipped != 2 {
		t.Errorf("%d read-only file mappings left alone, want 2 (libopus's RELRO, the one without an Anonymous line)", skipped)
	}
	if _, _, err := cleanFileMappings(strings.NewReader("zz-00400000 r--p 0 fe:01 1 /bin/x\n")); err == nil {
		t.Error("a bad range was accepted")
	}
	if _, _, err := cleanFileMappings(strings.NewReader("00500000-00400000 r--p 0 fe:01 1 /bin/x\n")); err == nil {
		t.Error("an empty range was accepted")
	}
}

func FuzzCleanFileMappings(f *testing.F) {
	f.Add([]byte(sampleSmaps))
	f.Fuzz(func(t *testing.T, smaps []byte) {
		regions, _, err := cleanFileMappings(bytes.NewReader(smaps))
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

// mappedKiB is how much of file is mapped into this process, from
// /proc/self/smaps.
func mappedKiB(t *testing.T, file string) int64 {
	t.Helper()
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
			in = len(fs) >= 6 && fs[5] == file
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			kb += n
		}
	}
	return kb
}

// mapFile writes a file of four pages of fill and maps it privately with
// prot; the mapping goes at the end of the test.
func mapFile(t *testing.T, name string, fill byte, prot int) (string, []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, bytes.Repeat([]byte{fill}, 4*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the mapping outlives the descriptor
	m, err := unix.Mmap(int(f.Fd()), 0, 4*os.Getpagesize(), prot, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return file, m
}

// The test binary's pages are unmapped and the process runs on: what it
// needs comes back on demand. A read-only private mapping the process
// wrote to before it was made read-only (as the loader does to a
// library's relocated data) is left alone, and what was written stays.
func TestUnmap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	// The written mapping: a file of 'a's, its first byte changed to 'b'
	// in a private copy, then made read-only.
	file, m := mapFile(t, "relro", 'a', unix.PROT_READ|unix.PROT_WRITE)
	m[0] = 'b'
	if m[2*os.Getpagesize()] != 'a' { // a clean page of the file beside it
		t.Fatal("the file's third page is not the file's")
	}
	if err := unix.Mprotect(m, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	// As if the loader had mapped it before main: else it is left alone
	// for being mapped later, before its pages are looked at.
	startFiles[file] = true
	defer delete(startFiles, file)
	// A clean file mapped after start, read from: left mapped.
	later, lm := mapFile(t, "plugin", 'p', unix.PROT_READ)
	var sum int
	for i := 0; i < len(lm); i += os.Getpagesize() {
		sum += int(lm[i])
	}
	if sum != 4*'p' {
		t.Fatalf("read %d from the plugin's pages", sum)
	}
	laterBefore := mappedKiB(t, later)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before := mappedKiB(t, exe)
	r, err := Unmap()
	if err != nil {
		t.Fatal(err)
	}
	after := mappedKiB(t, exe)
	t.Logf("%v; test binary mapped %d → %d KiB", r, before, after)
	if m[0] != 'b' {
		t.Fatalf("the byte written to a private mapping is now %q: a page of the process's own was dropped", m[0])
	}
	if r.Skipped < 1 {
		t.Errorf("no read-only mapping left alone; the written one should have been")
	}
	if got := mappedKiB(t, later); r.Later < 1 || laterBefore == 0 || got != laterBefore {
		t.Errorf("a file mapped after start: %d KiB mapped before, %d after (%d such mappings counted): want it left alone", laterBefore, got, r.Later)
	}
	if r.Mappings < 2 || r.Bytes < before<<10 {
		t.Errorf("unmapped %d mappings, %d bytes: the binary's text and read-only data should be among them", r.Mappings, r.Bytes)
	}
	// What the test runs between the two measures (the runtime, this
	// function, reading smaps) is mapped back at once, 64 KiB at a time.
	if before < 1024 || after > before*3/4 {
		t.Errorf("test binary mapped %d → %d KiB: want at least 1 MiB before and a quarter of it gone", before, after)
	}
	if r.RSSBefore <= 0 || r.RSSAfter <= 0 || r.RSSAfter >= r.RSSBefore {
		t.Errorf("VmRSS %d → %d", r.RSSBefore, r.RSSAfter)
	}
}
