package audio

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"sync"

	"golang.org/x/sys/unix"
)

// While PortAudio probes the devices, the C libraries under it write
// straight to the process's stderr: libasound about cards that are not
// there ("ALSA lib confmisc.c:855:(parse_card) cannot find card '0'"),
// libjack about a JACK server that is not running, PortAudio about ALSA
// devices it cannot size. Under systemd that is the journal: unprefixed
// lines (no priority), repeated at every retry while a sound card is
// missing. So stderr is captured around the probe and those lines are
// logged at debug level through the agent's logger instead; what the
// agent itself writes meanwhile (journal or text log lines) is passed on
// unchanged.

var (
	libLogMu sync.Mutex
	libLog   *slog.Logger
	ourLine  = regexp.MustCompile(`^(<[0-7]>)?(time=|level=)`)
)

// SetLogger sets where the audio libraries' own messages go (debug level).
// PortAudio is one per process, so this is too.
func SetLogger(l *slog.Logger) {
	libLogMu.Lock()
	libLog = l
	libLogMu.Unlock()
}

// quietly runs f with fd 2 captured.
func quietly(f func() error) error {
	saved, err := unix.Dup(2)
	if err != nil {
		return f()
	}
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(saved)
		return f()
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		unix.Close(saved)
		return f()
	}
	done := make(chan []string)
	go func() {
		var lib []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Bytes()
			if ourLine.Match(line) {
				unix.Write(saved, append(append([]byte(nil), line...), '\n'))
				continue
			}
			if t := bytes.TrimSpace(line); len(t) > 0 {
				lib = append(lib, string(t))
			}
		}
		r.Close()
		done <- lib
	}()
	ferr := f()
	unix.Dup2(saved, 2)
	w.Close()
	lib := <-done
	unix.Close(saved)
	libLogMu.Lock()
	l := libLog
	libLogMu.Unlock()
	if l != nil && len(lib) > 0 {
		l.Debug("audio libraries said", "lines", len(lib), "first", lib[0], "last", lib[len(lib)-1])
	}
	return ferr
}
