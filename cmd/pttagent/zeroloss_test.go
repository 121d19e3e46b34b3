package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// agentBinary builds the real pttagent once per test run.
func agentBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pttagent-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pttagent")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is one run of the agent binary.
type process struct {
	cmd    *exec.Cmd
	log    *logbuf.Buffer
	exited <-chan struct{} // closed when it exits (startAgentEnv)
}

func startAgent(t *testing.T, config string) *process {
	t.Helper()
	p := &process{log: &logbuf.Buffer{}}
	p.cmd = exec.Command(agentBinary(t), "run", "--config", config)
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

func (p *process) output() string { return p.log.String() }

// seqLog is the platform: it records every seq it receives, repeats included.
type seqLog struct {
	mu   sync.Mutex
	seqs []uint64
}

func (s *seqLog) add(_ paho.Client, m paho.Message) {
	pts, err := wire.DecodeTrackBatch(m.Payload())
	if err != nil {
		return
	}
	s.mu.Lock()
	for _, p := range pts {
		s.seqs = append(s.seqs, p.Seq)
	}
	s.mu.Unlock()
}

func (s *seqLog) snapshot() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.seqs...)
}

func (s *seqLog) received() int { return len(s.snapshot()) }

var queuedAtStart = regexp.MustCompile(`pttagent starting.*queued_points=(\d+)`)

// Zero loss, the way a handset loses things: the broker goes away and comes
// back, and the agent is SIGKILLed while batches it published are still
// unacknowledged, then restarted. The platform must end up with every
// sequence number 1..N, in order once repeats are dropped.
func TestZeroLossThroughOutageAndSIGKILL(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{Persistence: true})
	proxy := mqtttest.NewProxy(t, broker.Addr())

	// The platform keeps a persistent session so that nothing published
	// while the broker restarts is lost on its side either.
	var plat seqLog
	popts := paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("platform-zeroloss").
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe(wire.AllTracks("ptt"), 1, plat.add) })
	platform := paho.NewClient(popts)
	if tok := platform.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("platform: %v", tok.Error())
	}
	defer platform.Disconnect(50)

	dir := t.TempDir()
	_, stopGNSS := gpstest.Simulate(t, filepath.Join(dir, "gps0"), 10)

	cfg := configtest.Write(t, dir, `device: {account: dev-zeroloss}
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
log: {level: debug}
gps: {device: "{dir}/gps0"}
mqtt:
  brokers: [`+proxy.URL()+`]
  keepalive: 5s
  reconnect_min: 100ms
  reconnect_max: 400ms
  ack_timeout: 3s
tracks:
  track: 1
  periods: {high: 200ms}
  queue: {batch_points: 3, max_inflight: 2}
`)

	// 1. Normal reporting.
	agent := startAgent(t, cfg)
	wait.For(t, 20*time.Second, "15 points", func() bool { return plat.received() >= 15 })

	// 2. The broker goes away for 2 s; points pile up on disk, then drain.
	broker.Stop()
	time.Sleep(2 * time.Second)
	broker.Start()
	before := plat.received()
	wait.For(t, 20*time.Second, "the backlog to drain", func() bool { return plat.received() >= before+15 })

	// 3. Publishes reach the broker but their PUBACKs are lost; the agent
	//    is killed while those batches are unacknowledged. (With no PUBACK
	//    the window stays full: max_inflight batches, of one point each at
	//    this rate, and nothing is sent again before three ack timeouts.)
	proxy.DropReplies(true)
	before = plat.received()
	wait.For(t, 10*time.Second, "unacknowledged batches at the platform", func() bool { return plat.received() >= before+2 })
	agent.cmd.Process.Signal(syscall.SIGKILL)
	agent.cmd.Wait()
	proxy.DropReplies(false)
	proxy.Cut() // the killed process's connection goes too
	proxy.Restore()

	// 4. Restarted: it resumes from the disk.
	agent = startAgent(t, cfg)
	wait.For(t, 10*time.Second, "the restarted agent's start line", func() bool { return queuedAtStart.MatchString(agent.output()) })
	m := queuedAtStart.FindStringSubmatch(agent.output())
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Fatalf("the agent was killed with nothing unacknowledged; the test did not test a mid-batch kill:\n%s", agent.output())
	}
	before = plat.received()
	wait.For(t, 20*time.Second, "reporting after restart", func() bool { return plat.received() >= before+15 })

	// 5. Stop the GNSS, let the queue drain, stop the agent cleanly.
	stopGNSS()
	stable := 0
	wait.For(t, 20*time.Second, "the platform to stop receiving", func() bool {
		n := plat.received()
		time.Sleep(500 * time.Millisecond)
		if plat.received() == n {
			stable++
		} else {
			stable = 0
		}
		return stable >= 3
	})
	agent.cmd.Process.Signal(syscall.SIGTERM)
	if err := agent.cmd.Wait(); err != nil {
		t.Errorf("agent exit after SIGTERM: %v\n%s", err, agent.output())
	}

	q, err := queue.Open(filepath.Join(dir, "state", "tracks.db"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	st := q.Stats()
	q.Close()
	n := st.LastSeq
	if st.Len != 0 {
		t.Errorf("%d points still queued after the link was up for seconds: a stuck queue", st.Len)
	}

	seqs := plat.snapshot()
	seen := map[uint64]bool{}
	var order []uint64
	for _, s := range seqs {
		if !seen[s] {
			seen[s] = true
			order = append(order, s)
		}
	}
	if uint64(len(order)) != n {
		t.Fatalf("the agent numbered %d points; the platform has %d distinct", n, len(order))
	}
	for i, s := range order {
		if s != uint64(i+1) {
			t.Fatalf("after de-duplication position %d holds seq %d, want %d", i, s, i+1)
		}
	}
	t.Logf("N=%d points, %d deliveries (%d repeats from the outage and the kill), %s unacknowledged at the kill",
		n, len(seqs), len(seqs)-int(n), m[1])
}
