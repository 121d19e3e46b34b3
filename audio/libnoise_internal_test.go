package audio

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// What the C libraries print to stderr while PortAudio probes goes to the
// logger at debug level; the agent's own log lines written meanwhile reach
// stderr unchanged.
func TestLibraryNoiseIsCaptured(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := unix.Dup(2)
	unix.Dup2(int(f.Fd()), 2)
	var logged bytes.Buffer
	SetLogger(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer SetLogger(nil)
	err = quietly(func() error {
		unix.Write(2, []byte("ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\n"))
		unix.Write(2, []byte("<6>level=INFO msg=\"our own line\"\n"))
		unix.Write(2, []byte("Cannot connect to server socket err = No such file or directory\n"))
		return nil
	})
	unix.Write(2, []byte("after\n"))
	unix.Dup2(saved, 2)
	unix.Close(saved)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.Name())
	if string(got) != "<6>level=INFO msg=\"our own line\"\nafter\n" {
		t.Errorf("stderr got %q", got)
	}
	if l := logged.String(); !strings.Contains(l, "lines=2") || !strings.Contains(l, "cannot find card") || !strings.Contains(l, "Cannot connect") {
		t.Errorf("logged %q", l)
	}
}
