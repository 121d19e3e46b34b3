package systemd

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenNotify is systemd's end of the protocol: a real unixgram socket
// whose path goes in NOTIFY_SOCKET.
func listenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads one datagram, failing after a generous deadline.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// none checks that nothing was sent: Tick writes synchronously, so any
// datagram is already queued when Tick returns.
func none(t *testing.T, c *net.UnixConn) {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("unexpected notification %q", buf[:n])
	}
}

func TestNotifierLifecycle(t *testing.T) {
	c := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "20000000") // WatchdogSec=20s
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	if !n.Enabled() || n.WatchdogInterval() != 10*time.Second {
		t.Fatalf("enabled=%v interval=%v, want true 10s", n.Enabled(), n.WatchdogInterval())
	}
	t0 := time.Unix(1_700_000_000, 0)
	steps := []struct {
		at     time.Duration
		status string
		want   string // "" = nothing sent
	}{
		{0, "starting", "READY=1\nSTATUS=starting\nWATCHDOG=1"},
		{1 * time.Second, "starting", ""},
		{2 * time.Second, "uplink connected,\nGPS 3D fix", "STATUS=uplink connected, GPS 3D fix"},
		{9 * time.Second, "uplink connected,\nGPS 3D fix", ""},
		{10 * time.Second, "uplink connected,\nGPS 3D fix", "WATCHDOG=1"},
		{21 * time.Second, "uplink down", "STATUS=uplink down\nWATCHDOG=1"},
	}
	for _, s := range steps {
		if err := n.Tick(t0.Add(s.at), s.status); err != nil {
			t.Fatalf("at %v: %v", s.at, err)
		}
		if s.want == "" {
			none(t, c)
			continue
		}
		if got := next(t, c); got != s.want {
			t.Fatalf("at %v: sent %q, want %q", s.at, got, s.want)
		}
	}
	if err := n.Stopping("stopping: SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "STOPPING=1\nSTATUS=stopping: SIGTERM" {
		t.Fatalf("stop sent %q", got)
	}
	n.Tick(t0.Add(time.Minute), "late") // the main loop's last tick
	n.Stopping("again")
	none(t, c)
}

func TestNotifierWatchdogForAnotherProcess(t *testing.T) {
	c := listenNotify(t)
	// systemd set the watchdog for our parent (a wrapper script): it is
	// not ours to feed.
	t.Setenv("WATCHDOG_USEC", "20000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	if n.WatchdogInterval() != 0 {
		t.Fatalf("interval %v, want 0", n.WatchdogInterval())
	}
	n.Tick(time.Now(), "ok")
	if got := next(t, c); got != "READY=1\nSTATUS=ok" {
		t.Fatalf("sent %q", got)
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "garbage") // ignored: nobody to ping
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := n.Tick(time.Now(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := n.Stopping("x"); err != nil {
		t.Fatal(err)
	}
}

func TestNotifierBadWatchdog(t *testing.T) {
	listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "soon")
	if _, err := NewNotifier(); err == nil || !strings.Contains(err.Error(), "WATCHDOG_USEC") {
		t.Fatalf("err = %v, want one naming WATCHDOG_USEC", err)
	}
}

func TestNotifierSocketGone(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	err = n.Tick(time.Now(), "x")
	if err == nil || !strings.Contains(err.Error(), "gone.sock") {
		t.Fatalf("err = %v, want one naming the socket", err)
	}
	// READY was not delivered, so the next tick tries again.
	c, lerr := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
	if lerr != nil {
		t.Fatal(lerr)
	}
	defer c.Close()
	if err := n.Tick(time.Now(), "x"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "READY=1\nSTATUS=x" {
		t.Fatalf("sent %q", got)
	}
}

// Abstract sockets (a leading '@') are what systemd uses in containers.
func TestNotifierAbstractSocket(t *testing.T) {
	name := "@pttagent-test-" + strconv.Itoa(os.Getpid())
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	n, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	n.Tick(time.Now(), "")
	if got := next(t, c); got != "READY=1" {
		t.Fatalf("sent %q", got)
	}
}

func ExampleNotifier() {
	n, err := NewNotifier() // a no-op outside systemd
	if err != nil {
		panic(err)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for now := range tick.C {
		// The first tick says READY=1; later ones feed the watchdog.
		n.Tick(now, "uplink connected, GPS 3D fix, 0 points queued")
		break
	}
	n.Stopping("stopping")
}
