package gps

import (
	"os"
	"reflect"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// pollPort returns the open port's descriptor as an *os.File that reads
// through Go's network poller (epoll), or nil when that cannot be had; the
// port stays open either way and keeps its settings (speed, raw mode,
// exclusive access), which go.bug.st/serial made.
//
// Why: the library's Read blocks a thread in select(2) until data comes.
// At 1 Hz a receiver sends a burst of sentences a second, and every read
// that leaves the blocking call hands the runtime's one P back and forth
// between threads — about 10 of the idle agent's 16 CPU wake-ups a second
// (BENCHMARKS.md, "Agent idle"). Through the poller, the thread that sleeps
// in epoll_wait runs the reader goroutine itself: one wake-up per read.
// The read timeout becomes a read deadline (a runtime timer that wakes
// nothing unless it fires).
//
// The library does not export the descriptor: it is its port's unexported
// "handle" field, read here with reflect (a field of another version is
// missing or of another kind, and the library's own Read is used;
// TestSerialPortIsPolled fails then, so an upgrade cannot lose this
// silently). The duplicate shares the open file description: setting it
// non-blocking sets the port so too, which the library's select-then-read
// does not mind.
func pollPort(port serial.Port, name string) *os.File {
	v := reflect.ValueOf(port)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	h := v.Elem().FieldByName("handle")
	if !h.IsValid() || h.Kind() != reflect.Int {
		return nil
	}
	fd, err := unix.FcntlInt(uintptr(h.Int()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	// Only a descriptor the poller took has deadlines; anything else (a
	// regular file given as a device) stays on the library's Read.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil
	}
	return f
}
