package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// The push-to-talk tests run real agents in this test process, each on its
// own sound card — ALSA's file plugin behind real PortAudio, paced to the
// wall clock (audio.pace) — against a real mosquitto and a real pttsim,
// pressing keys through each agent's bench socket as a technician would.
// PortAudio and ALSA read their configuration once per process, so every
// card is made here, before any stream opens.

var cards map[string]*audiotest.Card

func TestMain(m *testing.M) {
	dir, c, err := audiotest.UseCards("a", "b", "c")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sound cards:", err)
		os.Exit(1)
	}
	cards = c
	// Capture past the end of a file repeats stale data: give every
	// microphone a minute of silence until a test says otherwise.
	for _, card := range cards {
		if err := card.SetInput(nil, time.Minute); err != nil {
			fmt.Fprintln(os.Stderr, "sound cards:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// handset is one running agent.
type handset struct {
	t       testing.TB
	name    string
	member  pttsim.Member
	card    *audiotest.Card
	a       *agent.Agent
	dir     string
	bench   string
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	conn    net.Conn
	replies *bufio.Scanner
	gnss    *gpssim.Device
}

// handsetSpec describes one agent of a pttWorld.
type handsetSpec struct {
	name     string // also its card and account
	priority int    // wapi priority 1–10, lower is higher
	tts      bool
	sysfs    string // a sysfs tree with the battery BAT0 ("": no battery)
	// jack: the JACK server's "system" device (a real-time clock) instead
	// of the paced file card, with the default jitter target — for the
	// latency benchmark.
	jack bool
	// gnss: a GNSS on a pseudo-terminal as the handset's receiver; the
	// test plays NMEA into handset.gnss.
	gnss bool
	// poll is platform.poll (default 1h).
	poll time.Duration
}

type pttWorld struct {
	t      testing.TB
	broker *mqtttest.Broker
	sim    *simtest.Sim
	web    *mqtttest.Proxy // in front of pttsim's HTTP: a platform outage is a Cut
	op     *simtest.Operator
	admin  pttsim.Member
	group  pttsim.Group
	hs     map[string]*handset
	probe  paho.Client
}

func startPTTWorld(t testing.TB, specs ...handsetSpec) *pttWorld {
	t.Helper()
	audiotest.NeedTools(t, "espeak-ng", "mosquitto")
	w := &pttWorld{t: t, hs: map[string]*handset{}}
	w.broker = mqtttest.Start(t, mqtttest.Options{})
	w.sim = simtest.Start(t, pttsim.Options{Broker: w.broker.URL()})
	w.web = mqtttest.NewProxy(t, strings.TrimPrefix(w.sim.URL, "http://"))
	var err error
	if w.admin, err = w.sim.AddMember(pttsim.MemberSpec{Num: "admin", Name: "Operator", Password: "admin", Type: pttsim.TypeOwner}); err != nil {
		t.Fatal(err)
	}
	ids := []int64{w.admin.ID}
	for _, sp := range specs {
		tts := 0
		if sp.tts {
			tts = 1
		}
		m, err := w.sim.AddMember(pttsim.MemberSpec{Num: sp.name, Name: "Unit " + strings.ToUpper(sp.name), Password: "pw-" + sp.name,
			Type: pttsim.TypeDevice, TTS: tts, LocShare: 1, Track: 3, Priority: sp.priority})
		if err != nil {
			t.Fatal(err)
		}
		w.hs[sp.name] = &handset{t: t, name: sp.name, member: m, card: cards[sp.name]}
		ids = append(ids, m.ID)
	}
	if w.group, err = w.sim.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: w.admin.ID, Members: ids}); err != nil {
		t.Fatal(err)
	}
	w.op = w.sim.Login(t, "admin", "admin")
	w.probe = paho.NewClient(paho.NewClientOptions().AddBroker(w.broker.URL()).SetClientID("ptt-probe"))
	if tok := w.probe.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("probe: %v", tok.Error())
	}
	t.Cleanup(func() { w.probe.Disconnect(50) })
	for _, sp := range specs {
		w.start(w.hs[sp.name], sp)
	}
	for _, sp := range specs {
		w.ready(w.hs[sp.name])
	}
	return w
}

func (w *pttWorld) start(h *handset, sp handsetSpec) {
	t := w.t
	t.Helper()
	if h.dir == "" { // a restart keeps the handset's state
		h.dir = t.TempDir()
	}
	configtest.Secrets(t, filepath.Join(h.dir, "agent.yaml"), "platform_password: pw-"+h.name+"\n")
	h.bench = filepath.Join(h.dir, "run", "keys.sock")
	gnss := filepath.Join(h.dir, "no-gnss")
	if sp.gnss {
		gnss = filepath.Join(h.dir, "gnss")
		var err error
		if h.gnss, err = gpssim.NewDevice(gnss); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.gnss.Close() })
	}
	poll := sp.poll
	if poll == 0 {
		poll = time.Hour
	}
	battery := "battery: none"
	if sp.sysfs != "" {
		battery = "battery: BAT0\n  sysfs_root: " + sp.sysfs + "\n  leds: {transmitting: \"red:tx\", receiving: \"green:rx\", online: \"blue:online\"}"
	}
	// The default jitter target: the playout measures the jitter of CI's
	// shared cores like any network's and adapts to it.
	sound := fmt.Sprintf("capture_device: %s\n  playback_device: %s\n  pace: true", h.card.InDevice, h.card.OutDevice)
	if sp.jack {
		sound = "capture_device: system\n  playback_device: system"
	}
	cfg := configtest.Load(t, h.dir, fmt.Sprintf(`device: {account: %s}
secrets_file: secrets.yaml
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
gps: {device: %s}
mqtt:
  brokers: [%s]
  reconnect_min: 100ms
  reconnect_max: 500ms
platform:
  dialect: corp
  base_url: http://127.0.0.1:%d
  poll: %[5]s
  poll_with_events: %[5]s
  request_timeout: 2s
audio:
  %s
board:
  bench_socket: %s
  %s
floor:
  warning: 1s
tts:
  voice: en
`, h.name, gnss, w.broker.URL(), w.web.Port, poll, sound, h.bench, battery))
	var err error
	if h.a, err = agent.Assemble(cfg, pttLogger().With("handset", h.name), "test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.a.Run(ctx) }()
	t.Cleanup(h.stop)
}

func (h *handset) stop() {
	if h.cancel == nil {
		return
	}
	h.mu.Lock()
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
	h.mu.Unlock()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("handset %s: %v", h.name, err)
		}
	case <-time.After(10 * time.Second):
		h.t.Errorf("handset %s did not stop", h.name)
	}
	h.cancel = nil
}

// ready waits until the handset can talk and hear in the group: its
// devices are open, it knows the group, and both its floor and its voice
// subscriptions are in place (probed through the broker, so the first
// press of a test never races them).
func (w *pttWorld) ready(h *handset) {
	t := w.t
	t.Helper()
	wait.For(t, 15*time.Second, h.name+" in its group", func() bool {
		s := h.status()
		return s.AudioError == "" && s.ActiveGroup == w.group.ID && h.a.Status().Uplink.Connected
	})
	// Malformed messages are counted and otherwise ignored: they show the
	// subscriptions work without a sound.
	floorTopic := wire.FloorDownTopic("ptt", h.name)
	voiceTopic := wire.GroupVoice("ptt", w.group.ID, "probe")
	wait.For(t, 10*time.Second, h.name+"'s subscriptions", func() bool {
		s := h.status()
		if s.FloorBad > 0 && s.VoiceBad > 0 {
			return true
		}
		w.probe.Publish(floorTopic, 1, false, []byte(`{"v":1,"type":"probe"}`)).Wait()
		w.probe.Publish(voiceTopic, 0, false, []byte("not a voice packet")).Wait()
		time.Sleep(50 * time.Millisecond)
		return false
	})
	if _, err := h.benchCmd("ptt up"); err != nil {
		t.Fatalf("%s bench socket: %v", h.name, err)
	}
}

func (h *handset) status() ptt.Status {
	if s := h.a.Status().PTT; s != nil {
		return *s
	}
	return ptt.Status{}
}

// benchCmd sends one line to the handset's bench socket on a connection
// kept open, so a key held stays held.
func (h *handset) benchCmd(line string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn == nil {
		c, err := net.Dial("unix", h.bench)
		if err != nil {
			return "", err
		}
		h.conn, h.replies = c, bufio.NewScanner(c)
	}
	if _, err := fmt.Fprintln(h.conn, line); err != nil {
		return "", err
	}
	if !h.replies.Scan() {
		return "", fmt.Errorf("bench socket closed: %v", h.replies.Err())
	}
	if r := h.replies.Text(); r != "ok" {
		return r, fmt.Errorf("bench: %s", r)
	}
	return "ok", nil
}

func (h *handset) press() {
	h.t.Helper()
	if _, err := h.benchCmd("ptt down"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *handset) release() {
	h.t.Helper()
	if _, err := h.benchCmd("ptt up"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *handset) tap(key string) {
	h.t.Helper()
	if _, err := h.benchCmd(key + " tap 50"); err != nil {
		h.t.Fatal(err)
	}
}

// waitFloor waits for the handset's floor phase.
func (h *handset) waitFloor(phase string, d time.Duration) {
	h.t.Helper()
	wait.For(h.t, d, h.name+" "+phase, func() bool { return h.status().Floor == phase })
}

// output is what the handset's speaker played so far.
func (h *handset) output() []int16 {
	h.t.Helper()
	s, err := h.card.Output()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// waitQuiet waits until the handset plays nothing (no voice, tones or
// prompts: its output file stops growing) and has no prompt still to
// render (espeak-ng may take longer than the quiet spell on a busy
// machine).
func (h *handset) waitQuiet(d time.Duration) {
	h.t.Helper()
	last, since := -1, time.Now()
	wait.For(h.t, d, h.name+" quiet", func() bool {
		fi, err := os.Stat(h.card.Out)
		n := 0
		if err == nil {
			n = int(fi.Size())
		}
		if n != last {
			last, since = n, time.Now()
		}
		s := h.status()
		return time.Since(since) > 400*time.Millisecond && !s.Receiving && !s.Playing && s.PromptsPending == 0
	})
}

// find reports whether ref appears in the handset's output after sample
// from, and where: the normalised cross-correlation at the best lag.
func find(ref, out []int16, from int) (at int, ncc float64) {
	if from >= len(out) {
		return 0, 0
	}
	lag, ncc := audiotest.Align(ref, out[from:], len(out)-from)
	return from + lag, ncc
}

// floorSince lists the floor messages pttsim handled after n.
func (w *pttWorld) floorSince(n int) []pttsim.FloorEvent {
	ev := w.sim.FloorEvents()
	if n > len(ev) {
		return nil
	}
	return ev[n:]
}

// requestsFrom counts the requests a device sent among events.
func requestsFrom(events []pttsim.FloorEvent, account string) int {
	n := 0
	for _, e := range events {
		if e.From == account && e.Floor.Type == wire.FloorRequest {
			n++
		}
	}
	return n
}

// renderPrompt is what the agent's espeak-ng settings make of text.
func renderPrompt(t testing.TB, text string) []int16 {
	t.Helper()
	pcm, err := audio.TTS{Voice: "en", Speed: 160, Volume: 0.8}.Render(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func httpGet(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}

// pttLogger discards, unless AGENT_TEST_LOG is set (as testLogger).
func pttLogger() *slog.Logger {
	if os.Getenv("AGENT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
