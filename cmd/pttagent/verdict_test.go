package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// startAgentEnv runs the agent binary with extra environment (a sound
// card made of files) until the test ends.
func startAgentEnv(t *testing.T, config string, env []string) *process {
	t.Helper()
	p := &process{log: &logbuf.Buffer{}}
	p.cmd = exec.Command(agentBinary(t), "run", "--config", config)
	p.cmd.Env = append(p.cmd.Environ(), env...)
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	p.exited = exited
	t.Cleanup(func() { p.cmd.Process.Kill(); <-exited })
	return p
}

// waitFor polls cond until it holds; the agent exiting, or d passing,
// fails the test with the agent's log.
func waitFor(t *testing.T, p *process, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("the agent exited while waiting for %s:\n%s", what, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; agent log:\n%s", d, what, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentBench is a handset's world for the verdict tests: mosquitto,
// pttsim on it (platform and floor), a GNSS on a pty, a sound card made of
// files, and the agent itself, all real.
type agentBench struct {
	dir, cfg, sock, bench string
	broker                *mqtttest.Broker
	gnss                  *gpssim.Device
	stopGNSS              func()
	agent                 *process
}

type agentOptions struct {
	noSoundCard  bool
	platformDown bool   // platform.base_url: a port nobody listens on
	group        string // the group's name on the platform
	statusGroup  string
	platPassword string // the member's (default platPassword)
	secrets      string // the secrets file (default: platform_password)
}

func startBench(t *testing.T, o agentOptions) *agentBench {
	t.Helper()
	b := &agentBench{dir: t.TempDir()}
	// Only the files' own modes guard them, as under systemd
	// (RuntimeDirectoryMode=0751): another user may pass through.
	for d := b.dir; d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Mkdir(filepath.Join(b.dir, "run"), 0o751)
	b.broker = mqtttest.Start(t, mqtttest.Options{})
	plat := simtest.Start(t, pttsim.Options{Broker: b.broker.URL()})
	admin, _ := plat.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin-password", Type: pttsim.TypeOwner})
	if o.platPassword == "" {
		o.platPassword = platPassword
	}
	if o.secrets == "" {
		o.secrets = fmt.Sprintf("platform_password: %q\n", o.platPassword)
	}
	dev, err := plat.AddMember(pttsim.MemberSpec{Num: "dev-verdict", Name: "Verdict 1", Password: o.platPassword,
		Type: pttsim.TypeDevice, LocShare: 1, Track: 1})
	if err != nil {
		t.Fatal(err)
	}
	if o.group == "" {
		o.group = "Patrol"
	}
	if _, err := plat.CreateGroup(pttsim.GroupSpec{Name: o.group, Creator: admin.ID, Members: []int64{admin.ID, dev.ID}}); err != nil {
		t.Fatal(err)
	}
	b.gnss, b.stopGNSS = gpstest.Simulate(t, filepath.Join(b.dir, "gps0"), 4)
	var env []string
	audioYAML := "{capture_device: filein, playback_device: fileout, pace: true}"
	if o.noSoundCard {
		// The default device is a card that is not there. (An ALSA
		// configuration with no device at all makes PortAudio abort the
		// process in Pa_Initialize: an assertion in its device list.)
		conf := filepath.Join(b.dir, "no-card.conf")
		os.WriteFile(conf, []byte("pcm.null { type null }\npcm.!default { type hw card 9 device 0 }\n"), 0o644)
		env = []string{"ALSA_CONFIG_PATH=" + conf}
		audioYAML = "{}"
	} else {
		card, err := audiotest.NewCard(b.dir)
		if err != nil {
			t.Fatal(err)
		}
		env = []string{"ALSA_CONFIG_PATH=" + card.Config}
	}
	platURL := plat.URL
	if o.platformDown {
		platURL = fmt.Sprintf("http://127.0.0.1:%d", mqtttest.FreePort(t))
	}
	b.sock = filepath.Join(b.dir, "run", "status.sock")
	b.bench = filepath.Join(b.dir, "run", "keys.sock")
	b.cfg = configtest.Write(t, b.dir, fmt.Sprintf(`device: {account: dev-verdict}
secrets_file: secrets.yaml
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
status_group: %q
gps: {device: "{dir}/gps0"}
mqtt: {brokers: [%s], reconnect_min: 100ms, reconnect_max: 500ms}
tracks: {track: 1, periods: {high: 1s}}
platform: {dialect: corp, base_url: %s, poll: 1h}
audio: %s
board: {bench_socket: "{dir}/run/keys.sock", battery: none}
`, o.statusGroup, b.broker.URL(), platURL, audioYAML))
	configtest.Secrets(t, b.cfg, o.secrets)
	b.agent = startAgentEnv(t, b.cfg, env)
	return b
}

// status runs `pttagent status` (args added) and returns its output.
func (b *agentBench) status(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runBinary(t, nil, append([]string{"status", "--socket", b.sock}, args...)...)
	if code != 0 {
		return "exit " + fmt.Sprint(code) + ": " + errOut
	}
	return out
}

func (b *agentBench) waitVerdict(t *testing.T, d time.Duration, re string) string {
	t.Helper()
	var out string
	r := regexp.MustCompile(re)
	waitFor(t, b.agent, d, "a verdict matching "+re, func() bool {
		out = b.status(t)
		return r.MatchString(out)
	})
	return out
}

const okVerdict = `^OK — uplink connected, GPS 3D \(\d+ sats\), platform synced \d+ s ago, PTT ready \(group "Patrol"\), voice over MQTT\n`

// The verdict in the failure cases of the demo, each with a real agent:
// it says the worst problem first, with the warning's detail and hint,
// and the sections below it agree with it.
func TestVerdictWithRealAgents(t *testing.T) {
	t.Run("all good", func(t *testing.T) {
		t.Parallel()
		b := startBench(t, agentOptions{})
		out := b.waitVerdict(t, 30*time.Second, okVerdict)
		if !strings.Contains(out, "\nWarnings\n  none\n") {
			t.Errorf("OK beside warnings:\n%s", out)
		}
	})
	t.Run("no sound card", func(t *testing.T) {
		t.Parallel()
		b := startBench(t, agentOptions{noSoundCard: true})
		out := b.waitVerdict(t, 30*time.Second, `^PROBLEM — sound-card-absent: .*no default input device.* → check audio.capture_device`)
		if !strings.Contains(out, "  ! sound-card-absent: ") || !strings.Contains(out, "audio error: ") {
			t.Errorf("the sections do not say it:\n%s", out)
		}
	})
	t.Run("platform down", func(t *testing.T) {
		t.Parallel()
		b := startBench(t, agentOptions{platformDown: true})
		// Within the warning's delay (a minute) it is on its way, not a
		// problem yet; after, a problem.
		b.waitVerdict(t, 30*time.Second, `^OK — uplink connected, GPS 3D \(\d+ sats\), platform not reachable yet, PTT without a group`)
		out := b.waitVerdict(t, health.PlatformSyncFailing.TimeToVisible+30*time.Second,
			`^PROBLEM — platform-sync-failing: .*connection refused \(for 1 min\) → platform.base_url`)
		if !strings.Contains(out, "  ! platform-sync-failing: ") {
			t.Errorf("the warnings do not say it:\n%s", out)
		}
	})
	t.Run("broker down and back", func(t *testing.T) {
		t.Parallel()
		b := startBench(t, agentOptions{})
		b.waitVerdict(t, 30*time.Second, okVerdict)
		b.broker.Stop()
		out := b.waitVerdict(t, 30*time.Second, `^PROBLEM — uplink-down: .*connection refused.* → network, DNS`)
		attempts := regexp.MustCompile(`\n  failed attempts: (\d+)\n`).FindStringSubmatch(out)
		if !strings.Contains(out, "\nUplink\n  connected: no\n") || attempts == nil || attempts[1] == "0" {
			t.Errorf("the uplink section does not agree, or counts no failed attempt:\n%s", out)
		}
		b.broker.Start()
		// From the moment it says connected, it never says uplink-down
		// beside it.
		deadline := time.Now().Add(10 * time.Second)
		connected := false
		for time.Now().Before(deadline) {
			out := b.status(t)
			up := strings.Contains(out, "\nUplink\n  connected: yes\n")
			if up && (strings.Contains(out, "uplink-down") || !strings.HasPrefix(out, "OK — uplink connected")) {
				t.Fatalf("connected beside uplink-down:\n%s", out)
			}
			connected = connected || up
			time.Sleep(200 * time.Millisecond)
		}
		if !connected {
			t.Errorf("never reconnected")
		}
	})
	t.Run("GPS gone", func(t *testing.T) {
		t.Parallel()
		b := startBench(t, agentOptions{})
		b.waitVerdict(t, 30*time.Second, okVerdict)
		b.stopGNSS()
		if err := b.gnss.Unplug(); err != nil {
			t.Fatal(err)
		}
		out := b.waitVerdict(t, 30*time.Second, `^PROBLEM — gps-device-absent: .* → plug the receiver in`)
		// Not the last fix's mode, as if it were still there.
		for _, want := range []string{"\nGPS\n", "  connected: no\n", "  mode: no fix\n", "  has fix: no\n", "  sats: 0\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("the GPS section lacks %q:\n%s", want, out)
			}
		}
	})
}
