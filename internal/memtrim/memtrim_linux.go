package memtrim

import (
	"bufio"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// startFiles are the files mapped before main: the binary and the
// libraries the loader linked (package initialisation runs after the
// loader and before anything could dlopen).
var startFiles = func() map[string]bool {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	files := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		if fs := strings.Fields(sc.Text()); len(fs) >= 6 && strings.HasPrefix(fs[5], "/") {
			files[strings.Join(fs[5:], " ")] = true
		}
	}
	return files
}()

// Unmap drops the process's clean read-only file mappings' pages (see the
// package comment). It fails only if /proc cannot be read or the kernel
// refuses the advice; either way nothing changed but page tables.
func Unmap() (Result, error) {
	r := Result{RSSBefore: rss()}
	// Read as it is parsed: the file is ~100 kB, the heap of an idle
	// agent a few MiB.
	smaps, err := os.Open("/proc/self/smaps")
	if err != nil {
		return r, err
	}
	regions, skipped, err := cleanFileMappings(smaps)
	smaps.Close()
	r.Skipped = skipped
	if err != nil {
		return r, err
	}
	for _, g := range regions {
		if !startFiles[g.path] {
			r.Later++
			continue
		}
		// A raw system call: the range is an address, not Go memory.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(g.start), uintptr(g.end-g.start), unix.MADV_DONTNEED); errno != 0 {
			r.RSSAfter = rss()
			return r, &os.SyscallError{Syscall: "madvise(MADV_DONTNEED) " + g.path, Err: errno}
		}
		r.Mappings++
		r.Bytes += int64(g.end - g.start)
	}
	r.RSSAfter = rss()
	return r, nil
}
