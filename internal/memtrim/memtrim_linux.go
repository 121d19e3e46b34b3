package memtrim

import (
	"os"

	"golang.org/x/sys/unix"
)

// Page advises the kernel to page out the process's read-only file
// mappings (see the package comment). It fails only if /proc cannot be
// read or the kernel has no MADV_PAGEOUT (before Linux 5.4); either way
// nothing changed but the page tables.
func Page() (Result, error) {
	r := Result{RSSBefore: rss()}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return r, err
	}
	regions, err := readOnlyFileMappings(maps)
	if err != nil {
		return r, err
	}
	for _, g := range regions {
		// A raw system call: the range is an address, not Go memory.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(g.start), uintptr(g.end-g.start), unix.MADV_PAGEOUT); errno != 0 {
			r.RSSAfter = rss()
			return r, &os.SyscallError{Syscall: "madvise(MADV_PAGEOUT) " + g.path, Err: errno}
		}
		// From now on a fault reads the page it needs, not a window
		// around it: the window (read_ahead_kb, 128 KiB to MiBs) brought
		// back what start-up had spread, and the kernel maps what is
		// cached around each fault.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(g.start), uintptr(g.end-g.start), unix.MADV_RANDOM); errno != 0 {
			r.RSSAfter = rss()
			return r, &os.SyscallError{Syscall: "madvise(MADV_RANDOM) " + g.path, Err: errno}
		}
		r.Mappings++
		r.Bytes += int64(g.end - g.start)
	}
	r.RSSAfter = rss()
	return r, nil
}
