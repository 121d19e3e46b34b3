package memtrim

import (
	"os"

	"golang.org/x/sys/unix"
)

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
