// Package memtrim gives the kernel back the pages of code and read-only
// data that a daemon ran once, at start-up, and will not run again.
//
// A Go binary's start-up (package initialisers, the configuration's
// parser, TLS and the first connections, opening the devices) touches
// code all over its text, and the kernel maps file pages in blocks around
// every fault: an idle pttagent had ~10 of its 15 MiB binary resident
// although its steady state runs about 3 MiB of it. Page provides the
// measure the kernel would apply under memory pressure, at once:
// madvise(MADV_PAGEOUT) on the process's private, read-only file
// mappings (the binary and the libraries), after which what the daemon
// still runs comes back on demand. Android compacts its background apps
// the same way (process_madvise with MADV_PAGEOUT). Pages that another
// process maps too are left alone by the kernel, and nothing written is
// touched: only clean file pages go, so nothing can be lost. The same
// mappings are then marked MADV_RANDOM, so that a later fault reads the
// page it needs rather than a read-ahead window around it (which, with
// the kernel mapping what is cached around each fault, brought 2–3 MiB
// of the binary back that the daemon does not run). The price is paid by
// code run for the first time after the trim — a first push-to-talk
// burst — in single-page reads from storage (BENCHMARKS.md).
package memtrim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Result says what Page did.
type Result struct {
	Mappings  int   // file mappings advised
	Bytes     int64 // their size
	RSSBefore int64 // VmRSS, bytes
	RSSAfter  int64
}

func (r Result) String() string {
	return fmt.Sprintf("%d mappings (%.1f MiB), RSS %.1f → %.1f MiB", r.Mappings, mib(r.Bytes), mib(r.RSSBefore), mib(r.RSSAfter))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// region is one line of /proc/self/maps worth paging out.
type region struct {
	start, end uint64
	path       string
}

// readOnlyFileMappings parses a maps file: private mappings of a file
// (the path starts with "/") without write permission. Anonymous memory,
// the stack, [vdso] and anything writable are never chosen.
func readOnlyFileMappings(maps []byte) ([]region, error) {
	var out []region
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		perms := f[1]
		if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: bad range %q", f[0])
		}
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err := errors.Join(err1, err2); err != nil || e <= s {
			return nil, fmt.Errorf("maps: bad range %q", f[0])
		}
		out = append(out, region{start: s, end: e, path: strings.Join(f[5:], " ")})
	}
	return out, sc.Err()
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
