package statussock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
)

// start runs a server on a socket in a fresh directory and waits for it.
func start(t *testing.T, snapshot func() any) (path string, stop func() error) {
	return startServer(t, &Server{Snapshot: snapshot})
}

func startServer(t *testing.T, s *Server) (path string, stop func() error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), FileName)
	s.Path = path
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	wait.For(t, 10*time.Second, "the socket", func() bool { _, err := os.Stat(path); return err == nil })
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("server did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return path, stop
}

func TestFetch(t *testing.T) {
	n := 0
	path, stop := start(t, func() any {
		n++
		return map[string]any{"device": "dev-0001", "requests": n}
	})
	for want := 1; want <= 2; want++ {
		b, err := Fetch(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Device   string
			Requests int
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got.Device != "dev-0001" || got.Requests != want {
			t.Fatalf("got %+v, want request %d", got, want)
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left behind after stop: %v", err)
	}
	_, err := Fetch(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "is pttagent running? socket "+path+" not found") {
		t.Fatalf("after stop: %v", err)
	}
}

func TestSocketMode(t *testing.T) {
	path, _ := start(t, func() any { return 1 })
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want socket 0660", fi.Mode())
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getegid() {
		t.Fatalf("socket group %d, want the daemon's group %d", gid, os.Getegid())
	}
	leftovers, _ := filepath.Glob(path + ".tmp*")
	if len(leftovers) > 0 {
		t.Fatalf("temporary socket left: %v", leftovers)
	}
}

// A user outside the socket's group is refused by the kernel; a member
// gets the status. Run for real: the test binary asks again as user
// nobody, once without and once with the socket's group. With a status
// group (status_group), its members may ask and members of the daemon's
// own group no longer can: that group is the service's alone.
func TestSocketPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user (CI runs as root)")
	}
	t.Run("daemon's group", func(t *testing.T) { testSocketPermissions(t, "", uint32(os.Getegid())) })
	g, err := user.LookupGroup("daemon") // any group but root's and nobody's
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	t.Run("status group", func(t *testing.T) { testSocketPermissions(t, "daemon", uint32(gid)) })
}

func testSocketPermissions(t *testing.T, group string, sockGID uint32) {
	var log logbuf.Buffer
	path, _ := startServer(t, &Server{Snapshot: func() any { return map[string]string{"ok": "yes"} }, Group: group,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Sys().(*syscall.Stat_t).Gid; got != sockGID {
		t.Fatalf("socket group %d, want %d; log:\n%s", got, sockGID, log.String())
	}
	// Let nobody reach the socket's directory; the socket's own mode is
	// then the only guard.
	for d := filepath.Dir(path); d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(filepath.Dir(path), "client.test")
	copyFile(t, os.Args[0], exe)
	const nobody = 65534
	cases := []struct {
		name   string
		groups []uint32
		want   string
	}{
		{"outsider", nil, "permission"},
		{"group member", []uint32{sockGID}, "ok"},
	}
	if group != "" {
		cases = append(cases, struct {
			name   string
			groups []uint32
			want   string
		}{"member of the daemon's group only", []uint32{uint32(os.Getegid())}, "permission"})
	}
	for _, c := range cases {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "STATUSSOCK_HELPER="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: c.groups}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		if !strings.Contains(string(out), "RESULT "+c.want) {
			t.Errorf("%s: got\n%s\nwant RESULT %s", c.name, out, c.want)
		}
		if hint := "only root and group " + groupName(sockGID) + " may ask"; c.want == "permission" && !strings.Contains(string(out), hint) {
			t.Errorf("%s: the refusal does not say %q:\n%s", c.name, hint, out)
		}
	}
}

// TestMain doubles as the other user's side of TestSocketPermissions.
func TestMain(m *testing.M) {
	if path := os.Getenv("STATUSSOCK_HELPER"); path != "" {
		helperClient(path)
		return
	}
	os.Exit(m.Run())
}

func helperClient(path string) {
	_, err := Fetch(context.Background(), path)
	switch {
	case err == nil:
		fmt.Println("RESULT ok")
	case errors.Is(err, fs.ErrPermission):
		fmt.Println("RESULT permission:", err)
	default:
		fmt.Println("RESULT other:", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A socket left by a crashed run (nothing listening) is refused by the
// client with a clear message and replaced by the next daemon.
func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the socket file stays, as after a SIGKILL
	_, err = Fetch(context.Background(), path)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "is pttagent running?") {
		t.Fatalf("stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- (&Server{Path: path, Snapshot: func() any { return "fresh" }}).Run(ctx) }()
	wait.For(t, 10*time.Second, "the new server's answer", func() bool {
		b, err := Fetch(context.Background(), path)
		return err == nil && string(b) == "\"fresh\"\n"
	})
	cancel()
	<-done
}

// A second daemon with the same runtime_dir refuses to start instead of
// stealing the socket from the first.
func TestSecondDaemonRefused(t *testing.T) {
	path, _ := start(t, func() any { return 1 })
	err := (&Server{Path: path, Snapshot: func() any { return 2 }}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another pttagent is running") {
		t.Fatalf("second server: %v", err)
	}
	if _, err := Fetch(context.Background(), path); err != nil {
		t.Fatalf("first server lost its socket: %v", err)
	}
}

func TestUnknownRequest(t *testing.T) {
	path, _ := start(t, func() any { return 1 })
	_, err := request(context.Background(), path, "floor")
	if err == nil || !strings.Contains(err.Error(), `unknown request "floor"`) {
		t.Fatalf("err = %v", err)
	}
}

// A client that connects and says nothing does not keep the server from
// answering others, nor from stopping.
func TestSilentClient(t *testing.T) {
	path, stop := start(t, func() any { return 1 })
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Fetch(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(strings.Repeat("x", 1000))) // no newline, too long
	buf := make([]byte, 10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("server answered an overlong request: %q", buf[:n])
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestRuntimeDirNotWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(dir, nil, 0o600)
	err := (&Server{Path: filepath.Join(dir, FileName), Snapshot: func() any { return 1 }}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "runtime_dir") {
		t.Fatalf("err = %v", err)
	}
}
