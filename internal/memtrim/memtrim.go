// Package memtrim unmaps the pages of code and read-only data that a
// daemon ran once, at start-up, and will not run again.
//
// A Go binary's start-up (package initialisers, the configuration's
// parser, TLS and the first connections, opening the devices) touches
// code all over its text, and the kernel maps file pages in 64 KiB
// windows around every fault (fault-around, on handsets too): an idle
// pttagent had ~9 MiB of its binary mapped although its steady state
// runs about 1.2 MiB of it, and its libraries ~7 MiB. Unmap drops those
// mappings with madvise(MADV_DONTNEED) on the process's private,
// read-only file mappings that hold no page of the process's own; what
// the daemon still runs is mapped back from the page cache on its next
// fault (a minor fault: no storage read).
//
// It frees no memory by itself: the pages stay in the page cache. What
// changes is whose they are: mapped, they are the daemon's (its RSS, and
// the kernel protects mapped code from reclaim); unmapped, they are
// ordinary cache, the first thing the kernel takes back when the handset
// needs memory. Android trims its background apps in the same spirit.
//
// MADV_DONTNEED on a private mapping discards what the process wrote to
// it, so a mapping with any anonymous page — relocated read-only data of
// a library (RELRO), a debugger's breakpoint — is never chosen: only
// mappings whose every resident page is the file's own. And only files
// that were mapped before main ran — the binary and the libraries the
// loader linked, which are never unloaded: a plugin loaded later (ALSA
// loads some when a device opens) may be unloaded and another library
// mapped at its address, relocated, between reading smaps and the
// advice. It needs no
// privilege (MADV_PAGEOUT, which would evict the pages, works on file
// pages only for their owner: the service's user does not own its
// binary).
package memtrim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Result says what Unmap did.
type Result struct {
	Mappings  int   // file mappings unmapped
	Bytes     int64 // their size
	Skipped   int   // read-only file mappings left alone: pages of the process's own in them
	Later     int   // … and of files mapped after start (plugins that may be unloaded)
	RSSBefore int64 // VmRSS, bytes
	RSSAfter  int64
}

func (r Result) String() string {
	return fmt.Sprintf("%d mappings (%.1f MiB; left: %d written to, %d loaded later), RSS %.1f → %.1f MiB",
		r.Mappings, mib(r.Bytes), r.Skipped, r.Later, mib(r.RSSBefore), mib(r.RSSAfter))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// region is one mapping of /proc/self/smaps worth unmapping.
type region struct {
	start, end uint64
	path       string
}

// cleanFileMappings parses an smaps file: private mappings of a file (the
// path starts with "/") without write permission and with no anonymous
// page (Anonymous: 0 kB) — only those may be dropped without losing
// anything. It returns them and how many read-only file mappings it left
// for their anonymous pages. Anonymous memory, the stack, [vdso], shared
// and writable mappings are never chosen; a mapping whose Anonymous line
// is missing is not chosen either.
func cleanFileMappings(smaps io.Reader) (out []region, skipped int, err error) {
	var cur *region
	clean := false // cur's Anonymous line said 0
	flush := func() {
		if cur != nil {
			if clean {
				out = append(out, *cur)
			} else {
				skipped++
			}
		}
		cur, clean = nil, false
	}
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			if cur != nil {
				clean = strings.TrimSpace(v) == "0 kB"
			}
			continue
		}
		// A mapping's header: start-end perms offset dev inode [path].
		lo, hi, isRange := strings.Cut(f[0], "-")
		if !isRange || strings.HasSuffix(f[0], ":") || len(f) < 5 {
			continue // one of the mapping's fields
		}
		flush()
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		perms := f[1]
		if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
			continue
		}
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err := errors.Join(err1, err2); err != nil || e <= s {
			return nil, 0, fmt.Errorf("smaps: bad range %q", f[0])
		}
		cur = &region{start: s, end: e, path: strings.Join(f[5:], " ")}
	}
	flush()
	return out, skipped, sc.Err()
}

// rss is the process's resident set (VmRSS), in bytes.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
