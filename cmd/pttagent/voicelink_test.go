package main

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/internal/linkemu"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// Voice over emulated cellular links (issue 9), as a user gets it: two
// real pttagent processes — the talker on this machine's own network, the
// listener in a network namespace of its own behind the TUN link emulator
// (internal/linkemu), so the kernel's real TCP and UDP cross delay,
// jitter, loss, a bandwidth limit or a handover stall — with mosquitto and
// pttsim's relay on the platform side. The talker's microphone plays
// espeak-ng speech (ALSA's file plugin, paced in real time); what the
// listener's speaker wrote is compared with it window by window, and the
// listener's own status gives the mouth-to-ear distribution of every
// frame it played.
//
// CI runs the smoke profiles; the whole matrix is a benchmark:
//
//	PTTAGENT_VOICE_PROFILES=all go test -run TestVoiceOverCellularLinks -v -timeout 30m ./cmd/pttagent/
//
// (or a comma-separated list of profile/transport, e.g. "3g-poor/udp").
// PTTAGENT_VOICE_MQTT_FRAMES sets the talker's audio.frames_per_packet
// (default 3), to weigh the packet size over the broker.

type voiceCase struct {
	profile   string        // linkemu preset on the listener's link
	stall     time.Duration // a handover stall of the link, 3 s into the burst
	transport string        // "udp" (the media relay) or "mqtt"
}

func (c voiceCase) name() string {
	n := c.profile
	if c.stall > 0 {
		n = fmt.Sprintf("%s+stall%.1fs", n, c.stall.Seconds())
	}
	return n + "/" + c.transport
}

// What CI runs: a stall that over TCP used to cost every burst its last
// seconds, and a lossy link over UDP.
var voiceSmoke = []voiceCase{
	{profile: "4g", stall: 1500 * time.Millisecond, transport: "mqtt"},
	{profile: "3g-poor", transport: "udp"},
}

func voiceMatrix() []voiceCase {
	var all []voiceCase
	for _, tr := range []string{"udp", "mqtt"} {
		for _, p := range []string{"clean", "4g", "3g-poor", "cell-edge"} {
			all = append(all, voiceCase{profile: p, transport: tr})
		}
		all = append(all, voiceCase{profile: "4g", stall: 1500 * time.Millisecond, transport: tr})
	}
	return all
}

func TestVoiceOverCellularLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces and TUN devices need root (CI runs as root)")
	}
	audiotest.NeedTools(t, "espeak-ng")
	cases := voiceSmoke
	switch sel := os.Getenv("PTTAGENT_VOICE_PROFILES"); sel {
	case "":
	case "all":
		cases = voiceMatrix()
	default:
		cases = nil
		for _, c := range voiceMatrix() {
			for _, want := range strings.Split(sel, ",") {
				if strings.HasPrefix(c.name(), want) || c.profile+"/"+c.transport == want {
					cases = append(cases, c)
				}
			}
		}
	}
	var rows []string
	// PTTAGENT_VOICE_RUNS=N runs each case N times (a burst is ~500
	// frames: one lost packet more or less moves the figures) and reports
	// the run with the median "heard". Each run draws its own losses and
	// jitter (the link's seed is 7, 8, …): runs of one seed lose much the
	// same packets, and differ only in timing. PTTAGENT_VOICE_SEED=s
	// starts at s instead, to run a bad run again.
	runs := 1
	if n, err := strconv.Atoi(os.Getenv("PTTAGENT_VOICE_RUNS")); err == nil && n > 1 {
		runs = n
	}
	seed := uint64(7)
	if s, err := strconv.ParseUint(os.Getenv("PTTAGENT_VOICE_SEED"), 10, 64); err == nil {
		seed = s
	}
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			var rs []voiceResult
			for i := range runs {
				rs = append(rs, runVoiceCase(t, c, seed+uint64(i)))
				if runs > 1 {
					t.Logf("run %d: %s", i+1, rs[i].row(c))
				}
			}
			slices.SortFunc(rs, func(a, b voiceResult) int { return cmp.Compare(a.heard, b.heard) })
			r := rs[len(rs)/2]
			rows = append(rows, r.row(c))
			r.check(t, c)
		})
	}
	t.Logf("| link (listener) | transport | heard | m2e p50 | m2e p95 | concealed | FEC | late | trimmed | compressed | silence skipped |\n%s",
		strings.Join(rows, "\n"))
}

// voiceResult is what one burst gave.
type voiceResult struct {
	heard     float64 // audiotest.Intelligible
	jit       audio.JitterStats
	transport string
	playedS   float64
}

func (r voiceResult) row(c voiceCase) string {
	name := c.profile
	if c.stall > 0 {
		name += fmt.Sprintf(" + %.1f s stall", c.stall.Seconds())
	}
	j := r.jit
	return fmt.Sprintf("| %s | %s | %.0f %% | %.0f ms | %.0f ms | %d | %d | %d | %d | %d ms | %d |", name, r.transport,
		100*r.heard, j.MouthToEarP50Ms, j.MouthToEarP95Ms, j.Concealed, j.FEC, j.Late, j.Trimmed,
		j.CompressedMs, j.SilenceSkipped)
}

// check holds the smoke profiles to the floor: nothing thrown
// away, the speech heard; the figures of the whole matrix are in
// BENCHMARKS.md, not asserted.
func (r voiceResult) check(t *testing.T, c voiceCase) {
	t.Helper()
	if r.transport != c.transport {
		t.Errorf("voice went over %q, want %q", r.transport, c.transport)
	}
	if r.jit.Trimmed != 0 || r.jit.Expired != 0 {
		t.Errorf("speech thrown away: %d frames trimmed, %d bursts expired", r.jit.Trimmed, r.jit.Expired)
	}
	// audiotest.Intelligible: the same speech, Opus-coded, scores 0.99,
	// played 50 % faster 0.95, with a fifth cut out 0.64. 2 % loss with
	// its concealed frames scores 0.85–0.94 on CI's loaded cores.
	if r.heard < 0.8 {
		t.Errorf("%.0f %% of the speech heard, want ≥ 80 %%", 100*r.heard)
	}
}

// voiceProc is one agent process.
type voiceProc struct {
	cmd    *exec.Cmd
	log    logbuf.Buffer
	dir    string
	config string
	bench  string
	out    string // the speaker's raw file

	mu      sync.Mutex
	retuned []timedLine // the encoder's retunes, when they were logged
}

type timedLine struct {
	at   time.Time
	line string
}

// retunes lists the talker's encoder retunes: seconds after the key
// press, bitrate and the queue that moved it.
func (p *voiceProc) retunes(pressed time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	field := regexp.MustCompile(`(bitrate|queue|loss|jitter_ms)=(\S+)`)
	for _, l := range p.retuned {
		fmt.Fprintf(&b, "[%.2fs", l.at.Sub(pressed).Seconds())
		for _, m := range field.FindAllStringSubmatch(l.line, -1) {
			fmt.Fprintf(&b, " %s=%s", m[1], m[2])
		}
		b.WriteString("] ")
	}
	return b.String()
}

func runVoiceCase(t *testing.T, c voiceCase, seed uint64) voiceResult {
	bin := agentBinary(t)
	prof, err := linkemu.Preset(c.profile)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := linkemu.NewNamespace("listener")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	link, err := linkemu.New(linkemu.Config{Handset: ns.Name(), Profile: prof, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	plat := link.PlatformAddr().String()

	// The platform side, on the link's platform address (a local address
	// of this namespace, so the talker reaches it directly).
	port := mqtttest.FreePort(t)
	broker := mqtttest.Start(t, mqtttest.Options{Config: fmt.Sprintf("set_tcp_nodelay true\nlistener %d %s", port, plat)})
	opts := pttsim.Options{Broker: broker.URL()}
	if c.transport == "udp" {
		opts.MediaAddr = net.JoinHostPort(plat, "0")
	}
	s := simtest.StartOn(t, opts, net.JoinHostPort(plat, "0"))
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	ids := []int64{admin.ID}
	for _, n := range []string{"talker", "listener"} {
		m, err := s.AddMember(pttsim.MemberSpec{Num: n, Password: "voice-pw", Type: pttsim.TypeDevice})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	g, err := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, Members: ids})
	if err != nil {
		t.Fatal(err)
	}

	// The talker says two different sentences (so that every bit of speech
	// is found only where it was played) with a breath between.
	speech := append(append(append([]int16(nil), audiotest.Speech(t)...), make([]int16, audio.SampleRate/3)...), secondSentence(t)...)
	brokerURL := fmt.Sprintf("tcp://%s", net.JoinHostPort(plat, strconv.Itoa(port)))
	start := func(name string, mic []int16, in *linkemu.Namespace) *voiceProc {
		p := &voiceProc{dir: t.TempDir()}
		p.bench = filepath.Join(p.dir, "run", "keys.sock")
		p.out = filepath.Join(p.dir, "out.raw")
		micFile := filepath.Join(p.dir, "in.raw")
		raw := make([]byte, 2*(len(mic)+60*audio.SampleRate))
		for i, v := range mic {
			binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
		}
		if err := os.WriteFile(micFile, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		asound := filepath.Join(p.dir, "asound.conf")
		os.WriteFile(asound, []byte(fmt.Sprintf(`pcm.null { type null }
pcm.filein { type file slave.pcm "null" file "/dev/null" infile %q format "raw" }
pcm.fileout { type file slave.pcm "null" file %q format "raw" }
pcm.!default { type asym capture.pcm "filein" playback.pcm "fileout" }
`, micFile, p.out)), 0o644)
		configtest.Secrets(t, filepath.Join(p.dir, "agent.yaml"), "platform_password: voice-pw\n")
		p.config = configtest.Write(t, p.dir, fmt.Sprintf(`device: {account: %s}
secrets_file: secrets.yaml
state_dir: state
runtime_dir: run
gps: {device: "{dir}/no-gnss"}
mqtt: {brokers: [%s], reconnect_min: 100ms, allow_plaintext: true}
platform: {dialect: corp, base_url: %s, poll: 1h, allow_plaintext: true}
audio:
  capture_device: filein
  playback_device: fileout
  pace: true
  udp: %v
  frames_per_packet: %s
board: {bench_socket: %s, battery: none}
recordings: {enabled: false}
tts: {enabled: false}
`, name, brokerURL, s.URL, c.transport == "udp", cmp.Or(os.Getenv("PTTAGENT_VOICE_MQTT_FRAMES"), "3"), p.bench))
		if in != nil {
			p.cmd = in.Command(bin, "run", "--config", p.config)
		} else {
			p.cmd = exec.Command(bin, "run", "--config", p.config)
		}
		p.cmd.Env = append(os.Environ(), "ALSA_CONFIG_PATH="+asound)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, _ := p.cmd.StderrPipe()
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "voice encoder retuned") {
					p.mu.Lock()
					p.retuned = append(p.retuned, timedLine{time.Now(), sc.Text()})
					p.mu.Unlock()
				}
				p.log.Write([]byte(sc.Text() + "\n"))
			}
		}()
		t.Cleanup(func() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
			if t.Failed() {
				t.Logf("%s's log:\n%s", name, p.log.String())
			}
		})
		return p
	}
	talker := start("talker", speech, nil)
	listener := start("listener", nil, ns)

	ready := regexp.MustCompile(`active group.* group=` + strconv.FormatInt(g.ID, 10))
	for _, p := range []*voiceProc{talker, listener} {
		wait.For(t, 30*time.Second, "push-to-talk ready", func() bool {
			return ready.MatchString(p.log.String()) && strings.Contains(p.log.String(), "push-to-talk ready")
		})
	}
	for _, p := range []*voiceProc{talker, listener} {
		wait.For(t, 30*time.Second, "voice over "+c.transport, func() bool {
			st, err := voiceStatus(bin, p.config)
			return err == nil && st.PTT != nil && st.PTT.Transport == c.transport
		})
	}

	// The listener has settled in its group, as a handset a burst comes
	// to in the field: the roster asked when it began listening has come,
	// and its downlink has been quiet for half a second. Otherwise that
	// start-up traffic shares a cell edge's 64 kbit/s with the burst's
	// first second — in some runs and not others.
	wait.For(t, 30*time.Second, "the listener's roster", func() bool {
		st, err := voiceStatus(bin, listener.config)
		return err == nil && st.PTT != nil && st.PTT.Online != nil && !st.PTT.Online.Checked.IsZero()
	})
	quiet, lastIn := time.Now(), link.Stats(linkemu.Downlink).BytesIn
	wait.For(t, 30*time.Second, "a quiet downlink", func() bool {
		if in := link.Stats(linkemu.Downlink).BytesIn; in != lastIn {
			quiet, lastIn = time.Now(), in
		}
		return time.Since(quiet) >= 500*time.Millisecond
	})

	var conn net.Conn
	wait.For(t, 5*time.Second, "the talker's bench socket", func() bool {
		conn, err = net.Dial("unix", talker.bench)
		return err == nil
	})
	defer conn.Close()
	replies := bufio.NewScanner(conn)
	key := func(cmd string) {
		fmt.Fprintln(conn, cmd)
		if !replies.Scan() || replies.Text() != "ok" {
			t.Fatalf("bench %s: %s", cmd, replies.Text())
		}
	}
	key("ptt down")
	pressed := time.Now()
	hold := time.Duration(len(speech))*time.Second/audio.SampleRate + 300*time.Millisecond
	if c.stall > 0 {
		time.Sleep(3 * time.Second)
		link.Stall(c.stall)
		time.Sleep(hold - 3*time.Second)
	} else {
		time.Sleep(hold)
	}
	key("ptt up")
	wait.For(t, 30*time.Second, "the listener played the burst out", func() bool {
		st, err := voiceStatus(bin, listener.config)
		return err == nil && st.PTT != nil && st.PTT.BurstsHeard >= 1 && !st.PTT.Receiving
	})
	st, err := voiceStatus(bin, listener.config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(listener.out)
	if err != nil {
		t.Fatal(err)
	}
	played := make([]int16, len(raw)/2)
	for i := range played {
		played[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	// PTTAGENT_VOICE_KEEP=dir keeps what was said and what was heard, as
	// raw 16 kHz mono s16le, to listen to or study, and both agents' logs.
	if dir := os.Getenv("PTTAGENT_VOICE_KEEP"); dir != "" {
		base := filepath.Join(dir, strings.NewReplacer("/", "-", "+", "-").Replace(c.name()))
		said := make([]byte, 2*len(speech))
		for i, v := range speech {
			binary.LittleEndian.PutUint16(said[2*i:], uint16(v))
		}
		if err := errors.Join(os.WriteFile(base+".said.raw", said, 0o644), os.WriteFile(base+".heard.raw", raw, 0o644),
			os.WriteFile(base+".talker.log", []byte(talker.log.String()), 0o644),
			os.WriteFile(base+".listener.log", []byte(listener.log.String()), 0o644)); err != nil {
			t.Error(err)
		}
	}
	r := voiceResult{transport: st.PTT.Transport, playedS: float64(len(played)) / audio.SampleRate,
		heard: audiotest.Intelligible(speech, played, audiotest.HeardThreshold)}
	if st.PTT.Jitter != nil {
		r.jit = *st.PTT.Jitter
	}
	t.Logf("%s: played %.1f s of %.1f s; heard %.0f %%; jitter %+v; voice copy opened %d, backed off %d; link down %+v up %+v",
		c.name(), r.playedS, float64(len(speech))/audio.SampleRate, 100*r.heard, r.jit,
		st.PTT.VoiceCopies, st.PTT.VoiceCopyBackOffs, link.Stats(linkemu.Downlink), link.Stats(linkemu.Uplink))
	// PTTAGENT_VOICE_RETUNES=1 shows how the talker's encoder followed the
	// link: when each retune came, in seconds from the key press.
	if os.Getenv("PTTAGENT_VOICE_RETUNES") != "" {
		t.Logf("%s: talker's retunes: %s", c.name(), talker.retunes(pressed))
	}
	return r
}

var second struct {
	sync.Once
	pcm []int16
	err error
}

// secondSentence is a reply to audiotest.SpeechText, rendered once.
func secondSentence(t *testing.T) []int16 {
	second.Do(func() {
		second.pcm, second.err = audiotest.Speak("Copy that, unit seven. Proceed to the north gate and report back when you are in position, over.", "en")
	})
	if second.err != nil {
		t.Fatal(second.err)
	}
	return second.pcm
}

// voiceStatus asks a running agent for its status, as a technician does.
func voiceStatus(bin, config string) (agent.Status, error) {
	var st agent.Status
	out, err := exec.Command(bin, "status", "--json", "--config", config).Output()
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(out, &st)
}
