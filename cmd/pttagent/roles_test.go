package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// asUser runs the agent binary (a copy others may execute) as user nobody
// with the given supplementary groups.
func asUser(t *testing.T, exe string, groups []uint32, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if name == "pttagent" {
		cmd = exec.Command(exe, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// Who may do what on a running handset (issue 13, item 11): a member of
// the status group (status_group) reads the status and nothing else; a
// member of the service's own group does not even read the status; nobody
// but the service's user and root presses keys, reads recordings or the
// push-to-talk settings. And what the platform names (a group) cannot
// drive the technician's terminal through status (item 13).
func TestRolesAndEscapes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run commands as another user (CI runs as root)")
	}
	statusGroup, err := user.LookupGroup("daemon")
	if err != nil {
		t.Fatal(err)
	}
	sgid, _ := strconv.Atoi(statusGroup.Gid)
	b := startBench(t, agentOptions{statusGroup: "daemon", group: "Pat\x1b]0;owned\arol\x1b[2J"})
	out := b.waitVerdict(t, 30*time.Second, `^OK — uplink connected, .*PTT ready \(group "Pat\\x1b\]0;owned\\arol\\x1b\[2J"\)`)
	if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' }); i >= 0 {
		t.Errorf("a control character reaches the terminal at %d:\n%q", i, out)
	}
	recordings := filepath.Join(b.dir, "state", "recordings")
	waitFor(t, b.agent, 10*time.Second, "the recordings directory", func() bool { _, err := os.Stat(recordings); return err == nil })
	// The push-to-talk settings on disk: a volume step is saved at once.
	if code, out, errOut := runBinary(t, nil, "key", "volume_up", "--socket", b.bench); code != 0 {
		t.Fatalf("key as root: %d %s%s", code, out, errOut)
	}
	prefs := filepath.Join(b.dir, "state", "ptt.json")
	waitFor(t, b.agent, 10*time.Second, "ptt.json", func() bool { _, err := os.Stat(prefs); return err == nil })
	for path, want := range map[string]os.FileMode{recordings: 0o700 | os.ModeDir, prefs: 0o600, b.bench: 0o600 | os.ModeSocket,
		b.sock: 0o660 | os.ModeSocket} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode(), want, err)
		}
	}

	exe := filepath.Join(b.dir, "pttagent")
	copyExecutable(t, agentBinary(t), exe)
	member := []uint32{uint32(sgid)}
	serviceGroup := []uint32{uint32(os.Getegid())} // the agent runs as root here: its group is root's
	for _, tc := range []struct {
		name   string
		groups []uint32
		cmd    string
		args   []string
		code   int
		says   string
	}{
		{"status group: status", member, "pttagent", []string{"status", "--socket", b.sock}, 0, "OK — uplink connected"},
		{"status group: press PTT", member, "pttagent", []string{"ptt", "tap", "100", "--socket", b.bench}, 1,
			"permission denied: pressing keys is for the service's user and root"},
		{"status group: recordings", member, "ls", []string{recordings}, 2, "Permission denied"},
		{"status group: ptt.json", member, "cat", []string{prefs}, 1, "Permission denied"},
		{"service group: status", serviceGroup, "pttagent", []string{"status", "--socket", b.sock}, 1,
			"only root and group daemon may ask: run with sudo, or add yourself to the group (adduser $USER daemon"},
		{"service group: press a key", serviceGroup, "pttagent", []string{"key", "volume_up", "--socket", b.bench}, 1, "permission denied"},
		{"service group: recordings", serviceGroup, "ls", []string{recordings}, 2, "Permission denied"},
		{"anyone: status", nil, "pttagent", []string{"status", "--socket", b.sock}, 1, "only root and group daemon may ask"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := asUser(t, exe, tc.groups, tc.cmd, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.says) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.says, out)
			}
		})
	}
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// status --watch: redrawn in place on a terminal, one line per look into
// a pipe (the verdict, or a JSON document), until Ctrl-C, which is not an
// error.
func TestStatusWatch(t *testing.T) {
	b := startBench(t, agentOptions{})
	b.waitVerdict(t, 30*time.Second, okVerdict)

	watch := func(stdout io.Writer, args ...string) *exec.Cmd {
		cmd := exec.Command(agentBinary(t), append([]string{"status", "--watch", "--interval", "200ms", "--socket", b.sock}, args...)...)
		cmd.Stdout = stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	interrupt := func(cmd *exec.Cmd) {
		t.Helper()
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("after Ctrl-C: %v, want exit 0", err)
		}
	}

	t.Run("pipe", func(t *testing.T) {
		r, w, _ := os.Pipe()
		cmd := watch(w)
		w.Close()
		sc := bufio.NewScanner(r)
		line := regexp.MustCompile(`^\d\d:\d\d:\d\d OK — uplink connected, GPS 3D`)
		for i := 0; i < 3; i++ {
			if !sc.Scan() {
				t.Fatalf("line %d: %v", i, sc.Err())
			}
			if !line.MatchString(sc.Text()) {
				t.Fatalf("line %q", sc.Text())
			}
		}
		interrupt(cmd)
	})
	t.Run("json lines", func(t *testing.T) {
		r, w, _ := os.Pipe()
		cmd := watch(w, "--json")
		w.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for i := 0; i < 2; i++ {
			var s struct{ Verdict string }
			if !sc.Scan() || json.Unmarshal(sc.Bytes(), &s) != nil || !strings.HasPrefix(s.Verdict, "OK — ") {
				t.Fatalf("line %d: %q", i, sc.Text())
			}
		}
		interrupt(cmd)
	})
	t.Run("terminal", func(t *testing.T) {
		master, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		cmd := watch(tty)
		tty.Close()
		var screen bytes.Buffer
		buf := make([]byte, 4096)
		for strings.Count(screen.String(), "\x1b[H\x1b[2J") < 3 {
			master.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := master.Read(buf)
			if err != nil {
				t.Fatalf("%v after:\n%q", err, screen.String())
			}
			screen.Write(buf[:n])
		}
		frames := strings.Split(screen.String(), "\x1b[H\x1b[2J")
		frame := frames[len(frames)-2] // a whole one
		for _, want := range []string{"every 200ms  (Ctrl-C ends)", "\nOK — uplink connected", "\nGPS\n", "\nWarnings\n"} {
			if !strings.Contains(strings.ReplaceAll(frame, "\r\n", "\n"), want) {
				t.Errorf("a frame lacks %q:\n%q", want, frame)
			}
		}
		interrupt(cmd)
	})
	// The agent going away is shown, and waited out.
	t.Run("agent stops", func(t *testing.T) {
		r, w, _ := os.Pipe()
		cmd := watch(w)
		w.Close()
		sc := bufio.NewScanner(r)
		sc.Scan()
		b.agent.cmd.Process.Signal(syscall.SIGTERM)
		<-b.agent.exited
		for sc.Scan() {
			if strings.Contains(sc.Text(), "is pttagent running?") {
				interrupt(cmd)
				return
			}
		}
		t.Fatal("the watch never said the agent was gone")
	})
}
