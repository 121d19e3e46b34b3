package brokers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	proc
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
	m := &Mosquitto{Port: port, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"),
		proc: proc{name: "mosquitto", logFile: filepath.Join(dir, "mosquitto.log")}}
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
	if err := m.start(m.bin, "-c", m.conf); err != nil {
		return err
	}
	if err := listening(m.Addr(), 10*time.Second); err != nil {
		return fmt.Errorf("mosquitto does not listen on %s: %w", m.Addr(), err)
	}
	return nil
}

// Stop ends the broker: SIGTERM (it closes every connection), SIGKILL
// after 5 s.
func (m *Mosquitto) Stop() { m.end(syscall.SIGTERM, 5*time.Second) }

// URL is the broker's address for paho and mqtt.brokers.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// Addr is host:port.
func (m *Mosquitto) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.Port) }
