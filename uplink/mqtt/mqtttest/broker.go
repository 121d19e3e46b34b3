// Package mqtttest runs a real mosquitto for tests, plus a TCP proxy that
// can cut the link like a dead zone, and a throw-away CA for TLS tests.
package mqtttest

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
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/logbuf"
)

// Options configure a broker.
type Options struct {
	// TLS serves TLS on the port with this certificate and key (PEM files).
	CertFile, KeyFile string
	// CAFile, with RequireClientCert, asks clients for a certificate signed by it.
	CAFile            string
	RequireClientCert bool
	// Persistence keeps sessions and queued QoS 1 messages across a stop
	// and start (saved on SIGTERM), like a production broker.
	Persistence bool
	// ACL is the content of an ACL file; empty allows everything.
	ACL string
	// Config is appended to mosquitto.conf (e.g. "set_tcp_nodelay true").
	Config string

	// ConfigFile runs a shipped mosquitto.conf (DeployDir) instead of one
	// made from the fields above, changed only where a test machine differs
	// (see deployedConf): its listeners get Ports, certfile, keyfile and
	// cafile become CertFile, KeyFile and CAFile.
	ConfigFile string
	// Passwords are the users of its password_file (username → password);
	// without a ConfigFile, setting them refuses anonymous clients.
	Passwords map[string]string
	// DynsecAdmin and DynsecPassword log in as the admin of its dynamic
	// security plugin (mosquitto_ctrl dynsec init).
	DynsecAdmin, DynsecPassword string
}

// Broker is a mosquitto process listening on 127.0.0.1.
type Broker struct {
	Port int
	// Ports are the listeners of a ConfigFile, in its order (Port is the
	// first).
	Ports []int
	t     testing.TB
	dir   string
	conf  string
	tls   bool
	mu    sync.Mutex
	cmd   *exec.Cmd
	log   *logbuf.Buffer // mosquitto writes while a test may read
}

// Binary finds mosquitto or explains how to get it.
func Binary() (string, error) {
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("mosquitto is not installed: run `make deps` (apt-get install mosquitto)")
}

// Start starts a broker and stops it when the test ends.
func Start(t testing.TB, o Options) *Broker {
	t.Helper()
	b := &Broker{t: t, dir: t.TempDir(), tls: o.CertFile != ""}
	var conf []byte
	if o.ConfigFile != "" {
		b.tls = false // deployedConf decides, from the file
		conf = b.deployedConf(t, o)
	} else {
		b.Ports = []int{FreePort(t)}
		conf = b.generatedConf(t, o)
	}
	b.Port = b.Ports[0]
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) generatedConf(t testing.TB, o Options) []byte {
	t.Helper()
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", b.Ports[0])
	if len(o.Passwords) > 0 {
		fmt.Fprintf(&conf, "allow_anonymous false\npassword_file %s\n", b.passwordFile(t, o.Passwords))
	} else {
		conf.WriteString("allow_anonymous true\n")
	}
	if os.Geteuid() == 0 {
		// mosquitto started as root drops to user "mosquitto", which cannot
		// read the test's temporary files.
		conf.WriteString("user root\n")
	}
	if o.CertFile != "" {
		fmt.Fprintf(&conf, "certfile %s\nkeyfile %s\n", o.CertFile, o.KeyFile)
	}
	if o.CAFile != "" {
		fmt.Fprintf(&conf, "cafile %s\n", o.CAFile)
	}
	if o.RequireClientCert {
		conf.WriteString("require_certificate true\nuse_identity_as_username true\n")
	}
	if o.Persistence {
		fmt.Fprintf(&conf, "persistence true\npersistence_location %s/\nautosave_interval 1\n", b.dir)
	}
	if o.ACL != "" {
		acl := filepath.Join(b.dir, "acl")
		if err := os.WriteFile(acl, []byte(o.ACL), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "acl_file %s\n", acl)
	}
	if o.Config != "" {
		conf.WriteString(o.Config + "\n")
	}
	return conf.Bytes()
}

// URL is the broker's address for paho and for the agent's config.
func (b *Broker) URL() string {
	if b.tls {
		return "mqtts://127.0.0.1:" + strconv.Itoa(b.Port)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(b.Port)
}

// Addr is host:port.
func (b *Broker) Addr() string { return "127.0.0.1:" + strconv.Itoa(b.Port) }

// Start (re)starts the broker on its port and waits until it accepts.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	bin, err := Binary()
	if err != nil {
		b.t.Fatal(err)
	}
	b.log = &logbuf.Buffer{}
	cmd := exec.Command(bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range b.Ports {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquitto did not listen on %s: %v\n%s", addr, err, b.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Stop stops the broker cleanly (SIGTERM: persistent sessions are saved).
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

// Log is what mosquitto printed so far (for failure messages).
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log == nil {
		return ""
	}
	return b.log.String()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
