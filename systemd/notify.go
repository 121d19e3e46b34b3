// Package systemd is the agent's side of the service manager: sd_notify
// (READY, WATCHDOG, STATUS, STOPPING) and a log/slog handler whose lines
// journald files under the right priority. Everything here is a no-op, or
// plain text, when the process does not run under systemd, so the same
// binary runs on a laptop.
//
// The notify protocol is github.com/coreos/go-systemd/v22/daemon: one
// datagram per message on $NOTIFY_SOCKET, abstract sockets and WATCHDOG_PID
// handled, and nothing outside the standard library. This package adds the
// policy on top: when READY is due, how often WATCHDOG is sent, STATUS only
// when it changed.
package systemd

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells systemd how the service is doing. It is safe for
// concurrent use.
type Notifier struct {
	socket   string        // $NOTIFY_SOCKET; "" = not under systemd
	watchdog time.Duration // ping interval (half of WATCHDOG_USEC); 0 = no watchdog

	mu         sync.Mutex
	ready      bool
	stopping   bool
	lastPing   time.Time
	lastStatus string
}

// NewNotifier reads the environment systemd sets for a Type=notify service:
// NOTIFY_SOCKET, and WATCHDOG_USEC with WATCHDOG_PID when WatchdogSec= is
// set. Without NOTIFY_SOCKET every method is a no-op. An unreadable
// WATCHDOG_USEC is an error: the unit asked for a watchdog that the agent
// could not serve, and systemd would kill it.
func NewNotifier() (*Notifier, error) {
	n := &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
	if n.socket == "" {
		return n, nil
	}
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, fmt.Errorf("systemd watchdog: %w", err)
	}
	n.watchdog = wd / 2
	return n, nil
}

// Enabled reports whether the process runs under a service manager that
// listens for notifications.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval is how often Tick pings the watchdog: half of systemd's
// WatchdogSec=, as sd_watchdog_enabled(3) recommends. 0 means no watchdog.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Tick is called from the agent's main loop, at least as often as
// WatchdogInterval. The first call sends READY=1 (the config is valid and
// the loop runs); later calls send WATCHDOG=1 when a ping is due and
// STATUS= when status changed. A loop that stops calling Tick is killed and
// restarted by systemd after WatchdogSec=. Everything due goes in one
// datagram.
func (n *Notifier) Tick(now time.Time, status string) error {
	if n.socket == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return nil // a late tick must not look like a restart to systemd
	}
	var lines []string
	if !n.ready {
		lines = append(lines, daemon.SdNotifyReady)
	}
	if status != n.lastStatus {
		lines = append(lines, "STATUS="+oneLine(status))
	}
	if n.watchdog > 0 && (!n.ready || now.Sub(n.lastPing) >= n.watchdog) {
		lines = append(lines, daemon.SdNotifyWatchdog)
	}
	if len(lines) == 0 {
		return nil
	}
	if err := n.send(lines); err != nil {
		return err
	}
	n.ready, n.lastStatus = true, status
	for _, l := range lines {
		if l == daemon.SdNotifyWatchdog {
			n.lastPing = now
		}
	}
	return nil
}

// Stopping tells systemd the service is shutting down (STOPPING=1), with
// a last STATUS= saying why. Later Ticks send nothing.
func (n *Notifier) Stopping(status string) error {
	if n.socket == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return nil
	}
	n.stopping = true
	lines := []string{daemon.SdNotifyStopping}
	if status != "" {
		lines = append(lines, "STATUS="+oneLine(status))
	}
	return n.send(lines)
}

func (n *Notifier) send(lines []string) error {
	if _, err := daemon.SdNotify(false, strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// oneLine keeps a status on one line: a newline would start a new
// assignment in the datagram.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
