package brokers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// FleetMosquittoConfig is what a mosquitto carrying a fleet needs beyond
// its defaults (docs/fleet.md says why, line by line).
const FleetMosquittoConfig = `# A platform subscriber takes every handset's tracks through one
# subscription: mosquitto's default of 1000 queued QoS 1 messages per
# client drops what passes it during a reconnect storm's drain. (Unbounded
# here; in production, bound it by the platform outage you accept.)
max_queued_messages 0
max_queued_bytes 0
# More QoS 1 messages in flight to one subscriber than the default 20:
# the platform acknowledges at once, the window is the only bound.
max_inflight_messages 1000
# Small messages (a PUBACK, then a floor message) without Nagle's delay.
set_tcp_nodelay true
`

// Mosquitto is a mosquitto process on 127.0.0.1 that can be stopped and
// started again on the same port.
type Mosquitto struct {
	Port int
	bin  string
	conf string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartMosquitto writes a config (FleetMosquittoConfig, then extra) into
// dir and starts the broker.
func StartMosquitto(dir, extra string) (*Mosquitto, error) {
	bin := ""
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil, fmt.Errorf("mosquitto is not installed: run `make deps` (apt-get install mosquitto)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Mosquitto{Port: port, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\nallow_anonymous true\n", port)
	if os.Geteuid() == 0 {
		conf.WriteString("user root\n") // it would drop to "mosquitto", which cannot read dir
	}
	conf.WriteString(FleetMosquittoConfig + extra + "\n")
	if err := os.WriteFile(m.conf, conf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return m, m.Start()
}

// Start (re)starts the broker and waits until it accepts connections.
func (m *Mosquitto) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start mosquitto: %w", err)
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { cmd.Wait(); logf.Close(); close(exited) }(m.exited)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto does not listen on %s: %w", m.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the broker: SIGTERM (it closes every connection), SIGKILL
// after 5 s.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Pid is the broker's process id, 0 when stopped.
func (m *Mosquitto) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// URL is the broker's address for paho and mqtt.brokers.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// Addr is host:port.
func (m *Mosquitto) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.Port) }

// Log is what mosquitto wrote so far.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}
