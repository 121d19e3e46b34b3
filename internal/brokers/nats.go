// Package brokers runs real MQTT brokers on loopback as processes, for the
// fleet tool and the tests that need more than mqtttest's one mosquitto:
// a NATS server cluster with MQTT and JetStream, each node its own process
// (a test can SIGKILL one as a machine dies and start it again on the same
// ports and store), and a mosquitto configured for a fleet. Proc reads a
// broker's CPU time and memory from /proc.
//
// The NATS server is github.com/nats-io/nats-server/v2 at the version
// go.mod pins (a `tool` dependency, never linked into the agent), built
// once per version with the go command into $TMPDIR, where later test
// processes find it; PTT_NATS_SERVER names another binary (Debian's
// nats-server, say).
package brokers

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ServerPackage is the module path the binary is built from.
const ServerPackage = "github.com/nats-io/nats-server/v2"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the nats-server binary, building it on first use.
func Binary() (string, error) {
	if p := os.Getenv("PTT_NATS_SERVER"); p != "" {
		return p, nil
	}
	buildOnce.Do(func() { binPath, buildErr = build() })
	return binPath, buildErr
}

// build builds the server once per version into the temporary directory,
// where the next test process (and the next run) finds it.
func build() (string, error) {
	hint := "(go.mod's tool dependency; run inside the repository, or set PTT_NATS_SERVER to a nats-server binary)"
	v, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/nats-io/nats-server/v2").Output()
	if err != nil {
		return "", fmt.Errorf("nats-server version %s: %w", hint, err)
	}
	path := filepath.Join(os.TempDir(), "pttagent-nats-server-"+strings.TrimSpace(string(v)))
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return path, nil
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if out, err := exec.Command("go", "build", "-o", tmp, ServerPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s %s: %w\n%s", ServerPackage, hint, err, out)
	}
	// Renamed into place whole: a concurrent test process finds either
	// nothing or the finished binary.
	return path, os.Rename(tmp, path)
}

// NATSOptions configure a cluster.
type NATSOptions struct {
	Nodes int    // default 3
	Dir   string // configs, logs and JetStream stores; required
	// MaxAckPending bounds the QoS 1 messages in flight to one MQTT
	// subscription (the server's default is 1024); a platform taking a
	// whole fleet's tracks through one subscription needs more.
	MaxAckPending int
	// Config is added to every node's mqtt {} block.
	MQTTConfig string
}

// Node is one server of the cluster.
type Node struct {
	Name                  string
	ClientPort, RoutePort int
	MQTTPort, MonitorPort int
	conf, logFile         string
	mu                    sync.Mutex
	cmd                   *exec.Cmd
	exited                chan struct{}
}

// Cluster is a running set of nodes.
type Cluster struct {
	Nodes []*Node
	bin   string
}

// StartNATS writes the nodes' configs and starts them; it returns once every
// node accepts MQTT connections. Stop ends them.
func StartNATS(o NATSOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	ports, err := freePorts(4 * o.Nodes)
	if err != nil {
		return nil, err
	}
	for i := range o.Nodes {
		n := &Node{Name: "n" + strconv.Itoa(i+1)}
		for _, p := range []*int{&n.ClientPort, &n.RoutePort, &n.MQTTPort, &n.MonitorPort} {
			*p, ports = ports[0], ports[1:]
		}
		c.Nodes = append(c.Nodes, n)
	}
	var routes []string
	for _, n := range c.Nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", n.RoutePort))
	}
	for _, n := range c.Nodes {
		dir := filepath.Join(o.Dir, n.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var conf bytes.Buffer
		fmt.Fprintf(&conf, "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", n.Name, n.ClientPort, n.MonitorPort)
		// A track batch is at most 4 KiB and an event 1 MiB: the default
		// max_payload (1 MiB) is just short of an event with its topic.
		conf.WriteString("max_payload: 2MB\n")
		fmt.Fprintf(&conf, "jetstream {\n  store_dir: %q\n  max_memory_store: 256MB\n  max_file_store: 4GB\n}\n", filepath.Join(dir, "js"))
		fmt.Fprintf(&conf, "cluster {\n  name: ptt\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", n.RoutePort, strings.Join(routes, ", "))
		fmt.Fprintf(&conf, "mqtt {\n  listen: 127.0.0.1:%d\n", n.MQTTPort)
		if o.MaxAckPending > 0 {
			fmt.Fprintf(&conf, "  max_ack_pending: %d\n", o.MaxAckPending)
		}
		if o.MQTTConfig != "" {
			conf.WriteString("  " + o.MQTTConfig + "\n")
		}
		conf.WriteString("}\n")
		n.conf = filepath.Join(dir, "nats.conf")
		n.logFile = filepath.Join(dir, "nats.log")
		if err := os.WriteFile(n.conf, conf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := c.startNode(n); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitMQTT(30 * time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	for _, n := range c.Nodes {
		if err := n.warm(30 * time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// warm makes the node's first MQTT connection: it creates the account's
// MQTT streams and consumers, which takes seconds, and a handset's first
// attempt would otherwise time out on it and go to the next node.
func (n *Node) warm(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		cli := paho.NewClient(paho.NewClientOptions().AddBroker(n.URL()).SetClientID("natstest-warm-" + n.Name).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(d))
		tok := cli.Connect()
		if tok.WaitTimeout(d) && tok.Error() == nil {
			cli.Disconnect(50)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server %s: no MQTT connection: %v\n%s", n.Name, tok.Error(), tail(n.Log(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Cluster) startNode(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(n.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "-c", n.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nats-server %s: %w", n.Name, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { cmd.Wait(); logf.Close(); close(exited) }(n.exited)
	return nil
}

// URL is the node's MQTT address for paho and mqtt.brokers.
func (n *Node) URL() string { return "tcp://127.0.0.1:" + strconv.Itoa(n.MQTTPort) }

// NATSURL is the node's address for NATS-protocol clients.
func (n *Node) NATSURL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.ClientPort) }

// Addr is the node's MQTT host:port.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.MQTTPort) }

// Pid is the node's process id (0 when it is not running).
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Log is what the node wrote so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.logFile)
	return string(b)
}

func (n *Node) waitMQTT(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", n.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server %s does not accept MQTT on %s: %w\n%s", n.Name, n.Addr(), err, tail(n.Log(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends node i with SIGKILL, as a machine that dies: no goodbye to
// its clients or its peers.
func (c *Cluster) Kill(i int) {
	n := c.Nodes[i]
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart starts node i again (same ports, same store) and waits until it
// takes MQTT connections (right after its start it closes them while its
// JetStream catches up).
func (c *Cluster) Restart(i int) error {
	n := c.Nodes[i]
	if err := c.startNode(n); err != nil {
		return err
	}
	if err := n.waitMQTT(30 * time.Second); err != nil {
		return err
	}
	return n.warm(30 * time.Second)
}

// Stop ends every node (SIGTERM, then SIGKILL after 5 s).
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.mu.Lock()
		cmd, exited := n.cmd, n.exited
		n.cmd = nil
		n.mu.Unlock()
		if cmd == nil {
			continue
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
}

// URLs lists the nodes' MQTT URLs starting at node first: a handset's
// mqtt.brokers, which it tries in order.
func (c *Cluster) URLs(first int) []string {
	var u []string
	for i := range c.Nodes {
		u = append(u, c.Nodes[(first+i)%len(c.Nodes)].URL())
	}
	return u
}

// WaitHealthy waits until every running node says JetStream is healthy
// (its /healthz: meta leader known, streams current), so a test does not
// start while the cluster still elects.
func (c *Cluster) WaitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, n := range c.Nodes {
		if n.Pid() == 0 {
			continue
		}
		for {
			err := n.healthz()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nats-server %s not healthy: %w\n%s", n.Name, err, tail(n.Log(), 3000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago: all are held open until the last is found, so the kernel cannot
// hand the same one out twice (FreePort called n times once gave a node
// the same port for its clients and its routes, and the node died on
// "address already in use").
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ErrNotRunning is the error of asking a killed node.
var ErrNotRunning = errors.New("brokers: node not running")

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
