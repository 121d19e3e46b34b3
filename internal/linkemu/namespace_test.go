package linkemu

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// needRoot skips tests that need namespaces and TUN devices when not root.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("linkemu needs root for network namespaces and TUN devices (CI runs as root)")
	}
}

// newNamespace is NewNamespace, deleted when the test ends.
func newNamespace(t testing.TB, prefix string) *Namespace {
	t.Helper()
	ns, err := NewNamespace(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

// ipOutput runs ip and returns what it printed.
func ipOutput(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestNamespace(t *testing.T) {
	needRoot(t)
	ns, err := NewNamespace("nstest")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if !strings.HasPrefix(ns.Name(), "nstest-") || !strings.Contains(ipOutput(t, "netns", "list"), ns.Name()) {
		t.Fatalf("namespace %q is not in `ip netns list`", ns.Name())
	}

	// A program run in it sees its loopback, up, and nothing else.
	out, err := ns.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") || !strings.Contains(lines[0], ",UP") {
		t.Errorf("inside the namespace ip link shows:\n%s\nwant only lo, up", out)
	}

	// A socket made there is there: its loopback is not this process's.
	l, err := ns.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	if c, err := net.Dial("tcp4", l.Addr().String()); err == nil {
		c.Close()
		t.Error("reached a listener in the namespace from outside it")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial from outside: %v, want connection refused", err)
	}
	c, err := ns.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("dial inside the namespace: %v", err)
	}
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("read %q, %v from the listener, want \"hi\"", buf, err)
	}
	c.Close()
	pc, err := ns.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()

	// This goroutine's thread never left: here, loopback is our own.
	if l2, err := net.Listen("tcp4", l.Addr().String()); err != nil {
		t.Errorf("listen on %s outside the namespace: %v", l.Addr(), err)
	} else {
		l2.Close()
	}

	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ipOutput(t, "netns", "list"), ns.Name()) {
		t.Errorf("namespace %s is still listed after Close", ns.Name())
	}
	if _, err := ns.Listen("tcp4", "127.0.0.1:0"); err == nil {
		t.Error("Listen worked on a closed namespace")
	}
}
