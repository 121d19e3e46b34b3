// Package statussock lets `pttagent status` ask the running daemon how it
// is doing: the daemon serves a JSON snapshot on a unix socket in its
// runtime directory (status.sock), which root and one group (status_group,
// the technicians') may use, and the command renders it for a technician.
// The socket only answers: nothing sent on it changes the agent, which is
// why a group of people may have it while the bench socket (keys) and the
// agent's files stay the service user's.
//
// The protocol is one request line ("status\n") and one JSON document in
// reply, then the daemon closes the connection. Unknown requests get
// {"error": "..."} so that older daemons answer newer clients sensibly.
package statussock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileName is the socket's name inside the runtime directory.
const FileName = "status.sock"

// Mode is the socket's permission: root, the service's user and the
// socket's group (Server.Group) may ask; others may not.
const Mode fs.FileMode = 0o660

// Server answers status requests. It is a Run(ctx) component.
type Server struct {
	// Path is the socket, normally RuntimeDir/status.sock.
	Path string
	// Snapshot returns the value to send, marshalled with encoding/json.
	// It is called once per request.
	Snapshot func() any
	// Group is the socket's group, whose members may ask (the service
	// must be a member to give it away). "", or a group that does not
	// exist, leaves the daemon's own group.
	Group  string
	Logger *slog.Logger
}

// requestTimeout bounds how long a client may take to send its request
// and read the reply, so a stuck client cannot pile up goroutines.
const requestTimeout = 5 * time.Second

// Run listens until ctx is cancelled, then removes the socket. It fails if
// another process already answers on Path: two agents must not share a
// device account and queue.
func (s *Server) Run(ctx context.Context) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := s.listen(log)
	if err != nil {
		return err
	}
	log.Debug("status socket listening", "path", s.Path)
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer os.Remove(s.Path)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("status socket %s: accept: %w", s.Path, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(c, log)
		}()
	}
}

// listen binds the socket under a temporary name, sets its mode and then
// renames it into place, so there is no moment in which it exists with the
// umask's looser mode.
func (s *Server) listen(log *slog.Logger) (*net.UnixListener, error) {
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("runtime_dir %s: %w (create it, or let systemd's RuntimeDirectory= do so)", dir, err)
	}
	if c, err := net.DialTimeout("unix", s.Path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("status socket %s: another pttagent is running (it answers on this socket); stop it first", s.Path)
	}
	tmp := s.Path + ".tmp" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("status socket %s: %w", tmp, err)
	}
	// Close must not remove the temporary name: it is renamed away.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, Mode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("status socket %s: %w", tmp, err)
	}
	s.giveToGroup(tmp, log)
	if err := os.Rename(tmp, s.Path); err != nil { // replaces a stale socket of a crashed run
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("status socket %s: %w", s.Path, err)
	}
	return ln, nil
}

// giveToGroup hands the socket to Group. Failing that, status is still
// there for root and the service's group: worth a line in the log, not
// worth stopping the agent.
func (s *Server) giveToGroup(path string, log *slog.Logger) {
	if s.Group == "" {
		return
	}
	g, err := user.LookupGroup(s.Group)
	if err != nil {
		log.Info("status socket: no group "+s.Group+"; only root and the service's group may ask", "path", s.Path)
		return
	}
	gid, err := strconv.Atoi(g.Gid)
	if err == nil {
		err = os.Chown(path, -1, gid)
	}
	if err != nil {
		log.Warn("status socket: cannot give it to group "+s.Group+" (is the service a member? SupplementaryGroups=)",
			"path", s.Path, "err", err)
	}
}

func (s *Server) serve(c net.Conn, log *slog.Logger) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(requestTimeout))
	req, err := bufio.NewReader(&limitedReader{c, 256}).ReadString('\n')
	if err != nil {
		log.Debug("status request unreadable", "err", err)
		return
	}
	var reply any
	switch req = strings.TrimSpace(req); req {
	case "status":
		reply = s.Snapshot()
	default:
		reply = map[string]string{"error": fmt.Sprintf("unknown request %q; this daemon knows: status", req)}
	}
	b, err := json.Marshal(reply)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "status: " + err.Error()})
	}
	c.Write(append(b, '\n'))
}

// limitedReader stops a client from sending an endless request line.
type limitedReader struct {
	c net.Conn
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

// Error is a failed request, with what a technician should do about it.
type Error struct {
	Path string
	Err  error  // the underlying error: fs.ErrNotExist, syscall.ECONNREFUSED, …
	Hint string // what to do
}

// Error leads with the hint, which names the path; the cause follows.
func (e *Error) Error() string { return fmt.Sprintf("%s (%v)", e.Hint, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// maxReply bounds a reply; a status is a few kilobytes.
const maxReply = 1 << 20

// Fetch asks the daemon at path for its status and returns the JSON.
func Fetch(ctx context.Context, path string) ([]byte, error) {
	return request(ctx, path, "status")
}

func request(ctx context.Context, path, req string) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, dialError(path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(requestTimeout))
	}
	if _, err := c.Write([]byte(req + "\n")); err != nil {
		return nil, &Error{Path: path, Err: err, Hint: "the daemon closed the connection; try again, then check `journalctl -u pttagent`"}
	}
	out, err := io.ReadAll(io.LimitReader(c, maxReply))
	if err != nil {
		return nil, &Error{Path: path, Err: err, Hint: "the daemon did not answer in time; it may be hung (systemd's watchdog restarts it), check `journalctl -u pttagent`"}
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(out, &e) == nil && e.Error != "" {
		return nil, &Error{Path: path, Err: errors.New(e.Error), Hint: "the daemon is older or newer than this command; use the same version"}
	}
	return out, nil
}

func dialError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Path: path, Err: fs.ErrNotExist, Hint: "is pttagent running? socket " + path + " not found: check `systemctl status pttagent`, or point at the config it runs with: pttagent status --config FILE"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Path: path, Err: syscall.ECONNREFUSED, Hint: "is pttagent running? nothing answers on " + path + " (it stopped without removing it; check `systemctl status pttagent`)"}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Path: path, Err: fs.ErrPermission, Hint: permissionHint(path)}
	}
	return &Error{Path: path, Err: err, Hint: "cannot reach the daemon"}
}

// permissionHint names the group that may ask: the socket's, when this
// user can see it, else the config's default (status_group).
func permissionHint(path string) string {
	g := "pttagent-status"
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			g = groupName(st.Gid)
		}
	}
	return "only root and group " + g + " may ask: run with sudo, or add yourself to the group (adduser $USER " + g + ", then log in again)"
}
