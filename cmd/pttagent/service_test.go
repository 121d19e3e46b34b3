package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/systemd"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// notifyLog is systemd's side of sd_notify: every datagram, in order.
type notifyLog struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notifyLog) listen(t *testing.T, path string) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
}

// lines returns every assignment received, in order ("READY=1", …).
func (n *notifyLog) lines() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, m := range n.msgs {
		out = append(out, strings.Split(m, "\n")...)
	}
	return out
}

func (n *notifyLog) count(prefix string) int {
	c := 0
	for _, l := range n.lines() {
		if strings.HasPrefix(l, prefix) {
			c++
		}
	}
	return c
}

func (n *notifyLog) has(prefix string) bool { return n.count(prefix) > 0 }

// unitTimeoutStop reads TimeoutStopSec= from the shipped unit.
func unitTimeoutStop(t *testing.T) time.Duration {
	b, err := os.ReadFile("../../systemd/pttagent.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no TimeoutStopSec= in the unit")
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The agent as systemd runs it: the real binary, NOTIFY_SOCKET and
// WATCHDOG_USEC set, stderr a "journal" stream (JOURNAL_STREAM names it),
// a pty GNSS and a real broker. Checks READY/STATUS/WATCHDOG/STOPPING,
// `pttagent status`, the graceful stop (offline presence, socket gone,
// exit 0 well within TimeoutStopSec=), journald priority prefixes, no line
// per NMEA sentence, and that no secret reaches the log. Stopped twice:
// with the broker answering, and with the broker gone silent (its replies
// lost: the offline presence is never acknowledged), the slowest stop.
func TestServiceUnderSystemd(t *testing.T) {
	t.Run("broker answering", func(t *testing.T) { testService(t, false) })
	t.Run("broker silent at stop", func(t *testing.T) { testService(t, true) })
}

func testService(t *testing.T, silentAtStop bool) {
	bin := agentBinary(t)
	broker := mqtttest.Start(t, mqtttest.Options{})
	proxy := mqtttest.NewProxy(t, broker.Addr())
	var presence []wire.Presence
	var pmu sync.Mutex
	watcher := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("presence-watcher"))
	if tok := watcher.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("presence watcher: %v", tok.Error())
	}
	defer watcher.Disconnect(50)
	watcher.Subscribe(wire.AllStatus("ptt"), 1, func(_ paho.Client, m paho.Message) {
		var p wire.Presence
		json.Unmarshal(m.Payload(), &p)
		pmu.Lock()
		presence = append(presence, p)
		pmu.Unlock()
	}).WaitTimeout(5 * time.Second)

	dir := t.TempDir()
	gpstest.Simulate(t, filepath.Join(dir, "gps0"), 4)
	// A handset has a sound card: without one the verdict is rightly a
	// problem (sound-card-absent).
	card, err := audiotest.NewCard(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Every secret the secrets file can hold, each with its own marker, so
	// a secret added later by another part is covered too. The platform
	// (pttsim) knows the device by the marker password: the agent logs in
	// with it (sending its MD5) during the run.
	secrets, values, markers := secretsFile(t)
	plat := simtest.Start(t, pttsim.Options{Broker: broker.URL()})
	if _, err := plat.AddMember(pttsim.MemberSpec{Num: "dev-service", Name: "Service test", Password: values["platform_password"],
		Type: pttsim.TypeDevice, LocShare: 1, Track: 1}); err != nil {
		t.Fatal(err)
	}
	configtest.Secrets(t, filepath.Join(dir, "agent.yaml"), secrets)
	cfg := configtest.Write(t, dir, `device: {account: dev-service, name: "Service test"}
secrets_file: secrets.yaml
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
log: {level: debug}
gps: {device: "{dir}/gps0"}
mqtt:
  brokers: [`+proxy.URL()+`]
  reconnect_min: 100ms
  reconnect_max: 500ms
tracks:
  track: 1
  periods: {high: 1s}
platform:
  dialect: corp
  base_url: `+plat.URL+`
  poll: 1h
audio: {capture_device: filein, playback_device: fileout, pace: true}
`)

	var sd notifyLog
	sd.listen(t, filepath.Join(dir, "notify.sock"))
	stderr, err := os.Create(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var st syscall.Stat_t
	syscall.Fstat(int(stderr.Fd()), &st)

	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "ALSA_CONFIG_PATH="+card.Config,
		"NOTIFY_SOCKET="+filepath.Join(dir, "notify.sock"),
		"WATCHDOG_USEC=2000000", // WatchdogSec=2s: a ping every second
		fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	journal := func() string { b, _ := os.ReadFile(stderr.Name()); return string(b) }
	wait := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			select {
			case err := <-exited:
				t.Fatalf("agent exited (%v) while waiting for %s:\n%s", err, what, journal())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s; notifications %q\n%s", d, what, sd.lines(), journal())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	wait(20*time.Second, "READY=1", func() bool { return sd.has("READY=1") })
	if l := sd.lines(); l[0] != "READY=1" {
		t.Errorf("first notification %q, want READY=1 first", l)
	}
	wait(30*time.Second, "a status with uplink and a 3D fix", func() bool {
		for _, l := range sd.lines() {
			if strings.HasPrefix(l, "STATUS=OK — uplink connected, GPS 3D (") {
				return true
			}
		}
		return false
	})
	wait(10*time.Second, "three watchdog pings", func() bool { return sd.count("WATCHDOG=1") >= 3 })

	// The technician's view.
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"status", "--config", cfg}, &out, &errOut); err != nil {
		t.Fatalf("status: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"device: dev-service", "\nUplink\n  connected: yes", "\nGPS\n", "mode: 3D", "\nTracks\n", "\nWarnings\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"status", "--json", "--socket", filepath.Join(dir, "run", "status.sock")}, &out, &errOut); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var js struct {
		Device   string
		GPS      struct{ Mode string }
		Uplink   struct{ Connected bool }
		Platform struct {
			LastSync string `json:"last_sync"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || js.Device != "dev-service" || js.GPS.Mode != "3D" || !js.Uplink.Connected {
		t.Errorf("status --json: %v %+v\n%s", err, js, out.String())
	}
	if js.Platform.LastSync == "" {
		t.Errorf("the agent has not synced with the platform (so it never sent the password):\n%s", out.String())
	}

	// systemctl stop: SIGTERM, timed against the unit's TimeoutStopSec=.
	if silentAtStop {
		proxy.DropReplies(true)
	}
	stopAt := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		took := time.Since(stopAt)
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		limit := unitTimeoutStop(t)
		if took > limit/3 {
			t.Errorf("graceful stop took %v; the unit allows %v and a loaded handset is slower than this machine", took, limit)
		}
		t.Logf("graceful stop took %v (TimeoutStopSec=%v)", took, limit)
	case <-time.After(unitTimeoutStop(t)):
		t.Fatalf("still running %v after SIGTERM: systemd would SIGKILL it\n%s", unitTimeoutStop(t), journal())
	}
	if !sd.has("STOPPING=1") {
		t.Errorf("no STOPPING=1: %q", sd.lines())
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "status.sock")); !os.IsNotExist(err) {
		t.Errorf("status socket left after stop: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pmu.Lock()
		n := len(presence)
		last := wire.Presence{}
		if n > 0 {
			last = presence[n-1]
		}
		pmu.Unlock()
		if last.State == "offline" && last.Reason == "shutdown" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no offline presence after stop; got %+v", presence)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	log := journal()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	prio := regexp.MustCompile(`^<[3467]>level=`)
	for _, l := range lines {
		if !prio.MatchString(l) {
			t.Errorf("not a journald line (priority prefix, no time): %q", l)
			break
		}
	}
	// Seconds of NMEA at 4× speed are thousands of sentences.
	if len(lines) > 150 {
		t.Errorf("%d log lines in a short debug run: is something logged per sentence or per point?\n%s", len(lines), log)
	}
	for _, m := range markers {
		if strings.Contains(log, m) {
			t.Errorf("secret %q in the log", m)
		}
	}
	if strings.Contains(log, systemd.Redacted) {
		t.Errorf("something tried to log a secret (it was redacted):\n%s", log)
	}
}

// secretsFile writes a value for every key of config.Secrets, and returns
// the values by key and what must never be logged: each value and its MD5.
func secretsFile(t *testing.T) (string, map[string]string, []string) {
	var b strings.Builder
	var markers []string
	values := map[string]string{}
	rt := reflect.TypeOf(config.Secrets{})
	for i := 0; i < rt.NumField(); i++ {
		key := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" || rt.Field(i).Type.Kind() != reflect.String {
			continue
		}
		m := fmt.Sprintf("S3cr3t-%s-%d", key, i)
		if key == "platform_password_md5" { // 32 hex digits, agreeing with platform_password
			sum := md5.Sum([]byte(values["platform_password"]))
			m = hex.EncodeToString(sum[:])
		}
		fmt.Fprintf(&b, "%s: %q\n", key, m)
		values[key] = m
		sum := md5.Sum([]byte(m)) // what the corp login sends
		markers = append(markers, m, hex.EncodeToString(sum[:]))
	}
	if len(markers) == 0 {
		t.Fatal("config.Secrets has no string fields")
	}
	return b.String(), values, markers
}

func TestStatusWhenNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "status.sock")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"status", "--socket", sock}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "is pttagent running? socket "+sock+" not found") {
		t.Fatalf("err = %v", err)
	}
}
