package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// Push-to-talk latency between two real pttagent processes, through
// mosquitto and pttsim on loopback, over b.N talk bursts of 1 s:
//
//   - grant: PTT pressed → floor granted (MCPTT KPI 1, access time), from
//     the talker's log;
//   - first voice: PTT pressed → the burst's first voice packet at a
//     subscriber of the group (end-to-end access time, KPI 2);
//   - mouth-to-ear: the burst's first frame captured on A → the same frame
//     heard on B (KPI 3): its capture time from the packet, the moment B
//     hands it to the card plus the card's output latency, from B's log.
//
// Two real-time clocks drive the sound cards:
//
//	go test -run '^$' -bench 'PTTLatency' -benchtime 40x ./cmd/pttagent/
//
// BenchmarkPTTLatencyJACK: a JACK server's dummy driver (16 kHz, periods of
// 320 frames) through PortAudio's JACK host API; capture is silence, which
// does not matter here. It needs jackd (apt-get install jackd2) and starts
// its own server. BenchmarkPTTLatencyPacedFileCard: ALSA's file plugin
// paced by the agent's audio.pace (the wall clock, 2 frames of playback
// buffer).

func BenchmarkPTTLatencyJACK(b *testing.B) {
	if _, err := exec.LookPath("jackd"); err != nil {
		b.Skip("jackd is not installed (apt-get install jackd2)")
	}
	name := fmt.Sprintf("pttbench%d", os.Getpid())
	jack := exec.Command("jackd", "-n", name, "-r", "-d", "dummy", "-r", "16000", "-p", "320", "-C", "1", "-P", "1")
	jack.Env = append(os.Environ(), "JACK_NO_AUDIO_RESERVATION=1")
	jack.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := jack.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { jack.Process.Kill(); jack.Wait() })
	time.Sleep(time.Second) // the server's sockets
	jackCard := func(string) ([]string, string) {
		return []string{"JACK_DEFAULT_SERVER=" + name}, "capture_device: system\n  playback_device: system"
	}
	// mosquitto's default leaves Nagle's algorithm on: a small message
	// that follows another (the PUBACK, then the floor message) waits for
	// the peer's delayed ACK, up to 40 ms on Linux, at each broker hop.
	b.Run("mosquitto-default", func(b *testing.B) { benchLatency(b, "", jackCard) })
	b.Run("mosquitto-nodelay", func(b *testing.B) { benchLatency(b, "set_tcp_nodelay true", jackCard) })
}

func BenchmarkPTTLatencyPacedFileCard(b *testing.B) {
	benchLatency(b, "set_tcp_nodelay true", func(dir string) ([]string, string) {
		conf := filepath.Join(dir, "asound.conf")
		in := filepath.Join(dir, "in.raw")
		os.WriteFile(in, make([]byte, 2*16000*120), 0o644)
		os.WriteFile(conf, []byte(fmt.Sprintf(`pcm.null { type null }
pcm.filein { type file slave.pcm "null" file "/dev/null" infile %q format "raw" }
pcm.fileout { type file slave.pcm "null" file %q format "raw" }
pcm.!default { type asym capture.pcm "filein" playback.pcm "fileout" }
`, in, filepath.Join(dir, "out.raw"))), 0o644)
		return []string{"ALSA_CONFIG_PATH=" + conf}, "capture_device: filein\n  playback_device: fileout\n  pace: true"
	})
}

var (
	grantRe = regexp.MustCompile(`msg=talking .*grant_ms=([0-9.]+)`)
	m2eRe   = regexp.MustCompile(`msg="voice heard" .*mouth_to_ear_ms=([0-9.]+)`)
)

func benchLatency(b *testing.B, brokerConf string, sound func(dir string) (env []string, yaml string)) {
	bin := benchBinary(b)
	broker := mqtttest.Start(b, mqtttest.Options{Config: brokerConf})
	s := simtest.Start(b, pttsim.Options{Broker: broker.URL()})
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	ids := []int64{admin.ID}
	for _, n := range []string{"a", "b"} {
		m, _ := s.AddMember(pttsim.MemberSpec{Num: n, Password: "pw", Type: pttsim.TypeDevice})
		ids = append(ids, m.ID)
	}
	g, _ := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, Members: ids})

	type proc struct {
		cmd   *exec.Cmd
		log   logbuf.Buffer
		bench string
	}
	start := func(name string) *proc {
		dir := b.TempDir()
		env, audioYAML := sound(dir)
		p := &proc{bench: filepath.Join(dir, "run", "keys.sock")}
		configtest.Secrets(b, filepath.Join(dir, "agent.yaml"), "platform_password: pw\n")
		cfg := configtest.Write(b, dir, fmt.Sprintf(`device: {account: %s}
secrets_file: secrets.yaml
state_dir: state
runtime_dir: run
gps: {device: "{dir}/no-gnss"}
mqtt: {brokers: [%s], reconnect_min: 100ms}
platform: {dialect: corp, base_url: %s, poll: 1h}
audio:
  %s
board: {bench_socket: %s, battery: none}
recordings: {enabled: false}
`, name, broker.URL(), s.URL, audioYAML, p.bench))
		exe := bin
		if os.Getenv("PTTAGENT_BENCH_AFTER_TRIM") != "" {
			// Each agent from its own copy, as on a handset: pages two
			// processes map are not trimmed.
			exe = filepath.Join(dir, "pttagent")
			if out, err := exec.Command("cp", bin, exe).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
		p.cmd = exec.Command(exe, "run", "--config", cfg)
		p.cmd.Env = append(os.Environ(), env...)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, _ := p.cmd.StderrPipe()
		if err := p.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				p.log.Write([]byte(sc.Text() + "\n"))
			}
		}()
		b.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() })
		return p
	}
	logOf := func(p *proc) string { return p.log.String() }
	values := func(p *proc, re *regexp.Regexp) []float64 {
		var v []float64
		for _, m := range re.FindAllStringSubmatch(logOf(p), -1) {
			f, _ := strconv.ParseFloat(m[1], 64)
			v = append(v, f)
		}
		return v
	}
	a, h := start("a"), start("b")

	var mu sync.Mutex
	first := map[uint32]time.Time{}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("listener"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	sub.Subscribe(wire.GroupVoice("ptt", g.ID, "+"), 0, func(_ paho.Client, m paho.Message) {
		now := time.Now()
		var p wire.VoicePacket
		if wire.DecodeVoicePacket(m.Payload(), &p) == nil && p.NFrames > 0 {
			mu.Lock()
			if _, ok := first[p.Burst]; !ok {
				first[p.Burst] = now
			}
			mu.Unlock()
		}
	}).Wait()

	wait := func(d time.Duration, what string, cond func() bool) {
		b.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatalf("timed out waiting for %s\nA:\n%s\nB:\n%s", what, logOf(a), logOf(h))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ready := regexp.MustCompile(`active group.* group=` + strconv.FormatInt(g.ID, 10))
	for _, p := range []*proc{a, h} {
		wait(20*time.Second, "push-to-talk ready", func() bool { return ready.MatchString(logOf(p)) })
	}
	var conn net.Conn
	wait(5*time.Second, "the bench socket", func() bool {
		var err error
		conn, err = net.Dial("unix", a.bench)
		return err == nil
	})
	defer conn.Close()
	replies := bufio.NewScanner(conn)
	key := func(cmd string) {
		fmt.Fprintln(conn, cmd)
		if !replies.Scan() || replies.Text() != "ok" {
			b.Fatalf("bench %s: %s", cmd, replies.Text())
		}
	}
	// A first burst settles the subscriptions; it is not counted.
	var access []float64
	for i := -1; i < b.N; i++ {
		if i == 0 && os.Getenv("PTTAGENT_BENCH_AFTER_TRIM") != "" {
			// The bursts counted come after both agents unmapped their
			// start-up pages (internal/memtrim): the first of them runs
			// code that must be mapped back.
			trimmed := regexp.MustCompile(`start-up pages unmapped`)
			wait(2*time.Minute, "the start-up trim", func() bool {
				return trimmed.MatchString(a.log.String()) && trimmed.MatchString(h.log.String())
			})
		}
		mu.Lock()
		clear(first)
		mu.Unlock()
		heard := len(values(h, m2eRe))
		pressed := time.Now()
		key("ptt down")
		var arrived time.Time
		wait(10*time.Second, "the first voice packet", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, t := range first {
				arrived = t
				return true
			}
			return false
		})
		time.Sleep(time.Second)
		key("ptt up")
		wait(10*time.Second, "B heard the burst", func() bool { return len(values(h, m2eRe)) > heard })
		if i >= 0 {
			access = append(access, float64(arrived.Sub(pressed).Microseconds())/1000)
		}
		time.Sleep(300 * time.Millisecond)
	}
	grant, m2e := values(a, grantRe)[1:], values(h, m2eRe)[1:]
	pct := func(v []float64, p float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	for _, m := range []struct {
		name string
		v    []float64
	}{{"grant", grant}, {"first-voice", access}, {"mouth-to-ear", m2e}} {
		b.ReportMetric(pct(m.v, 0.5), m.name+"-p50-ms")
		b.ReportMetric(pct(m.v, 0.95), m.name+"-p95-ms")
	}
	b.ReportMetric(0, "ns/op")
}

var (
	benchBinOnce sync.Once
	benchBin     string
	benchBinErr  error
)

func benchBinary(b *testing.B) string {
	benchBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pttagent-bench")
		if err != nil {
			benchBinErr = err
			return
		}
		benchBin = filepath.Join(dir, "pttagent")
		if out, err := exec.Command("go", "build", "-o", benchBin, ".").CombinedOutput(); err != nil {
			benchBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if benchBinErr != nil {
		b.Fatal(benchBinErr)
	}
	return benchBin
}
