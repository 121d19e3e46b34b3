package linkemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps the bind mounts that name namespaces
// (iproute2's NETNS_RUN_DIR; /var/run is a link to /run on Debian).
const netnsDir = "/run/netns"

// nsSeq numbers the namespaces and links of this process. With the pid it
// makes names that parallel test processes (one per package) cannot share.
var nsSeq atomic.Uint64

// Namespace is a network namespace created for a test, named so that `ip
// netns` and other programs can find it. Sockets and processes made in it
// reach other namespaces only through the links joined to it.
type Namespace struct {
	name string
	fd   int // open on the namespace, for setns(2)

	closeOnce sync.Once
	closeErr  error
}

// NewNamespace creates a network namespace named prefix-PID-N, with only
// its loopback interface, up. Close deletes it.
func NewNamespace(prefix string) (*Namespace, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ ") {
		return nil, fmt.Errorf("namespace prefix %q: want a non-empty name without '/' or spaces", prefix)
	}
	var name string
	for {
		name = fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nsSeq.Add(1))
		// A namespace left behind by a crashed process with our pid would
		// make `ip netns add` fail; step over it rather than delete it.
		if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err := runIP("netns", "add", name); err != nil {
		return nil, fmt.Errorf("create network namespace %s (needs root, or CAP_SYS_ADMIN): %w", name, err)
	}
	ns := &Namespace{name: name, fd: -1}
	fd, err := unix.Open(filepath.Join(netnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	ns.fd = fd
	if err := runIP("-n", name, "link", "set", "dev", "lo", "up"); err != nil {
		ns.Close()
		return nil, fmt.Errorf("namespace %s: loopback up: %w", name, err)
	}
	return ns, nil
}

// Name is the namespace's name for `ip netns` and for Config.Platform or
// Config.Handset.
func (ns *Namespace) Name() string { return ns.name }

// Command runs a program inside the namespace through `ip netns exec`,
// which execs it in place: the Cmd's process is the program itself, so
// killing it kills the program.
func (ns *Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// Listen is net.Listen with the socket inside the namespace.
func (ns *Namespace) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket with the socket inside the namespace.
func (ns *Namespace) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := ns.do(func() (err error) {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// Dial is net.Dial from inside the namespace. Give it literal addresses:
// a name lookup would run outside the namespace.
func (ns *Namespace) Dial(network, addr string) (net.Conn, error) {
	return ns.DialContext(context.Background(), network, addr)
}

// DialContext is Dial that gives up when ctx is done, as a connect over a
// lossy or blacked-out link may otherwise take minutes.
func (ns *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// do runs f on an OS thread that has entered the namespace. A socket keeps
// the namespace it was created in, so f's sockets stay there after the
// thread returns. f must not start goroutines that create sockets: they
// would run on other threads, in the process's own namespace.
func (ns *Namespace) do(f func() error) error {
	if ns.fd < 0 {
		return fmt.Errorf("namespace %s is closed", ns.name)
	}
	return inNamespace(ns.fd, ns.name, f)
}

// inNamespace runs f on a fresh goroutine locked to its thread, with the
// thread moved into the namespace open as fd. If the thread cannot be moved
// back, the goroutine exits still locked and the Go runtime retires the
// thread rather than let other goroutines run in the wrong namespace.
func inNamespace(fd int, name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s (needs root, or CAP_SYS_ADMIN): %w", name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave network namespace %s: %w", name, err))
			return // still locked: the thread goes with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNamedNamespace is inNamespace for a namespace known by name only; ""
// is the process's own, where f runs on the calling goroutine.
func inNamedNamespace(name string, f func() error) error {
	if name == "" {
		return f()
	}
	fd, err := unix.Open(filepath.Join(netnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s (create it with NewNamespace or `ip netns add`): %w", name, err)
	}
	defer unix.Close(fd)
	return inNamespace(fd, name, f)
}

// Close deletes the namespace's name. It kills nothing: processes started
// with Command and sockets made with Listen or Dial keep the namespace
// alive, unnamed, until they end or are closed.
func (ns *Namespace) Close() error {
	ns.closeOnce.Do(func() {
		if ns.fd >= 0 {
			unix.Close(ns.fd)
			ns.fd = -1
		}
		if err := runIP("netns", "delete", ns.name); err != nil {
			ns.closeErr = fmt.Errorf("delete network namespace %s: %w", ns.name, err)
		}
	})
	return ns.closeErr
}

// runIP runs iproute2's ip, with what it printed in the error.
func runIP(args ...string) error {
	return runIPInput(nil, args...)
}

// runIPInput is runIP with stdin, for `ip -batch -`.
func runIPInput(stdin []byte, args ...string) error {
	cmd := exec.Command("ip", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("ip not found (apt-get install iproute2): %w", err)
	}
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
