package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// The device's rights as docs/protocol.md gives them, keyed to the login
// (%u): its own tree to write, its events, floor and media sessions to
// read.
const deviceACL = `pattern write ptt/dev/%u/#
pattern read ptt/dev/%u/event
pattern read ptt/dev/%u/floor/ctl
pattern read ptt/dev/%u/media/ctl
`

// bench is everything a handset talks to, real: mosquitto over TLS with a
// password file and an ACL, the platform simulator, a GNSS on a pty and a
// sound card made of files.
type bench struct {
	dir, cfg string
	env      []string
	broker   *mqtttest.Broker
	ca       *mqtttest.CA
	plat     *simtest.Sim
}

type benchOptions struct {
	acl          string
	ca           func(*mqtttest.CA) // adjusts the broker certificate's dates
	noGNSS       bool
	yaml         string // appended to the config
	mqttPassword string // in the secrets file (default: the broker's)
	platPassword string
}

const (
	doctorAccount  = "dev-doc"
	brokerPassword = "Broker-password-1"
	platPassword   = "Platform-password-1"
)

func newBench(t *testing.T, o benchOptions) *bench {
	t.Helper()
	b := &bench{dir: t.TempDir(), ca: mqtttest.NewCA(t)}
	// A certificate as a real broker has: months ahead (a day would be
	// warned about).
	b.ca.NotAfter = time.Now().Add(90 * 24 * time.Hour)
	if o.ca != nil {
		o.ca(b.ca)
	}
	cert, key := b.ca.Issue(t, "127.0.0.1", false)
	pw := filepath.Join(b.dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-c", "-b", pw, doctorAccount, brokerPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	if o.acl == "" {
		o.acl = deviceACL
	}
	b.broker = mqtttest.Start(t, mqtttest.Options{CertFile: cert, KeyFile: key, ACL: o.acl,
		Config: "allow_anonymous false\npassword_file " + pw})
	b.plat = simtest.Start(t, pttsim.Options{})
	m, err := b.plat.AddMember(pttsim.MemberSpec{Num: doctorAccount, Name: "Doctor 1", Password: platPassword, Type: pttsim.TypeDevice})
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := b.plat.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin-password", Type: pttsim.TypeOwner})
	if _, err := b.plat.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, Members: []int64{admin.ID, m.ID}}); err != nil {
		t.Fatal(err)
	}
	if !o.noGNSS {
		gpstest.Simulate(t, filepath.Join(b.dir, "gps0"), 4)
	}
	card, err := audiotest.NewCard(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	b.env = []string{"ALSA_CONFIG_PATH=" + card.Config}
	if o.mqttPassword == "" {
		o.mqttPassword = brokerPassword
	}
	if o.platPassword == "" {
		o.platPassword = platPassword
	}
	b.cfg = configtest.Write(t, b.dir, fmt.Sprintf(`device: {account: %s}
secrets_file: secrets.yaml
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
status_group: ""
gps: {device: "{dir}/gps0"}
mqtt:
  brokers: [%s]
  tls: {ca_file: %s}
  reconnect_min: 100ms
platform: {dialect: corp, base_url: %s, poll: 1h}
audio: {capture_device: filein, playback_device: fileout}
%s`, doctorAccount, b.broker.URL(), b.ca.CertFile, b.plat.URL, o.yaml))
	configtest.Secrets(t, b.cfg, fmt.Sprintf("mqtt_password: %q\nplatform_password: %q\n", o.mqttPassword, o.platPassword))
	return b
}

// doctor runs `pttagent doctor` and returns its exit status and output.
func (b *bench) doctor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errOut := runBinary(t, b.env, append([]string{"doctor", "--config", b.cfg, "--timeout", "5s"}, args...)...)
	if errOut != "" {
		t.Errorf("doctor wrote to stderr:\n%s", errOut)
	}
	return code, out
}

// expect checks one step's line: its outcome and what it says.
func expect(t *testing.T, out, step, outcome string, says ...string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\[` + regexp.QuoteMeta(outcome) + `\] ` + step + ` .*(\n {17}.*)*`).FindString(out)
	if m == "" {
		t.Errorf("no [%s] %s step in:\n%s", outcome, step, out)
		return
	}
	for _, s := range says {
		if !strings.Contains(m, s) {
			t.Errorf("step %s lacks %q:\n%s", step, s, m)
		}
	}
}

func TestDoctorAllGood(t *testing.T) {
	b := newBench(t, benchOptions{})
	code, out := b.doctor(t)
	if code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, out)
	}
	expect(t, out, "config", " OK ", "no errors", "the agent is not running")
	expect(t, out, "secrets", " OK ", "mode 0600", "holds mqtt_password, platform_password")
	expect(t, out, "gps", " OK ", "gps0 at 9600 baud:", "fix 3D")
	expect(t, out, "dns", " OK ", "broker "+b.broker.URL()+": an address")
	expect(t, out, "tcp", " OK ", b.broker.Addr()+" connected in")
	expect(t, out, "tls", " OK ", "certificate for 127.0.0.1, issued by pttagent test CA, valid until", "clock: within")
	expect(t, out, "mqtt", " OK ", "logged in as dev-doc (client id dev-doc)",
		"subscriptions granted: ptt/dev/dev-doc/event, ptt/dev/dev-doc/floor/ctl, ptt/dev/dev-doc/media/ctl",
		"published on ptt/dev/dev-doc/status: acknowledged")
	expect(t, out, "platform", " OK ", "logged in as dev-doc; member \"Doctor 1\" (enabled), 1 groups: \"Patrol\"")
	expect(t, out, "sound", " OK ", `microphone "filein" opens`, `speaker "fileout" opens`)
	if !strings.HasSuffix(out, "\nOK: every step passed\n") {
		t.Errorf("no final verdict:\n%s", out)
	}
	t.Logf("\n%s", out)
}

// Many things wrong at once: each step says its own, the steps that
// depend on a failed one are skipped, the exit status is the worst.
func TestDoctorFailures(t *testing.T) {
	other := mqtttest.NewCA(t)
	b := newBench(t, benchOptions{noGNSS: true, platPassword: "Wrong-password-1"})
	// A CA that did not sign the broker's certificate, and no sound card.
	cfg, _ := os.ReadFile(b.cfg)
	cfg = bytes.Replace(cfg, []byte(b.ca.CertFile), []byte(other.CertFile), 1)
	cfg = bytes.Replace(cfg, []byte("capture_device: filein"), []byte("capture_device: usb-headset"), 1)
	os.WriteFile(b.cfg, cfg, 0o644)

	code, out := b.doctor(t)
	if code != 3 {
		t.Errorf("exit %d, want 3 (a step failed):\n%s", code, out)
	}
	expect(t, out, "config", "WARN", "gps.device", "is not there now")
	expect(t, out, "gps", "FAIL", "no such file or directory", "→ plug the receiver in")
	expect(t, out, "tls", "FAIL", "certificate signed by unknown authority",
		"→ the certificate is signed by pttagent test CA, which this handset does not trust: put that CA in mqtt.tls.ca_file")
	expect(t, out, "mqtt", "SKIP", "no broker reachable")
	expect(t, out, "platform", "FAIL", b.plat.URL, "→ the platform refuses the login")
	expect(t, out, "sound", "FAIL", `microphone: open capture usb-headset: no such audio device "usb-headset"`, `speaker "fileout" opens`)
	if !strings.Contains(out, "\nFAILED: config, gps, tls, platform, sound\n") {
		t.Errorf("final verdict:\n%s", out)
	}
}

func TestDoctorBroker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       benchOptions
		outcome string
		says    []string
	}{
		{"wrong password", benchOptions{mqttPassword: "Not-the-password"}, "FAIL",
			[]string{"login as dev-doc: not Authorized", "→ mqtt.username (default: the device account) and mqtt_password"}},
		// mosquitto's ACL file grants every subscription and filters on
		// delivery; doctor says so rather than claim the reads are fine.
		{"strict ACL", benchOptions{}, " OK ",
			[]string{"subscriptions granted: ptt/dev/dev-doc/event, ptt/dev/dev-doc/floor/ctl, ptt/dev/dev-doc/media/ctl (some brokers",
				"published on ptt/dev/dev-doc/status: acknowledged (the device may not read its own status"}},
		// A lenient broker lets the device read its own status: the
		// publish is then proven by reading it back.
		{"lenient ACL", benchOptions{acl: "pattern readwrite ptt/dev/%u/#\n"}, " OK ",
			[]string{"published on ptt/dev/dev-doc/status and read it back"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBench(t, tc.o)
			code, out := b.doctor(t)
			if want := map[string]int{" OK ": 0, "FAIL": 3}[tc.outcome]; code != want {
				t.Errorf("exit %d, want %d:\n%s", code, want, out)
			}
			expect(t, out, "mqtt", tc.outcome, tc.says...)
		})
	}
}

// A broker that refuses a subscription in its SUBACK (mochi-mqtt, with an
// ACL that forgot the floor): the step fails and names the topic.
func TestDoctorSubscriptionRefused(t *testing.T) {
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.DiscardHandler)})
	err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
		Auth: auth.AuthRules{{Username: doctorAccount, Password: brokerPassword, Allow: true}},
		ACL: auth.ACLRules{{Username: doctorAccount, Filters: auth.Filters{
			"ptt/dev/dev-doc/event": auth.ReadOnly, "ptt/dev/dev-doc/media/ctl": auth.ReadOnly, "ptt/dev/dev-doc/#": auth.WriteOnly}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	port := mqtttest.FreePort(t)
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: fmt.Sprintf("127.0.0.1:%d", port)})); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := newBench(t, benchOptions{})
	cfg, _ := os.ReadFile(b.cfg)
	cfg = bytes.Replace(cfg, []byte(b.broker.URL()), []byte(fmt.Sprintf("tcp://127.0.0.1:%d", port)), 1)
	os.WriteFile(b.cfg, cfg, 0o644)
	code, out := b.doctor(t)
	if code != 3 {
		t.Errorf("exit %d, want 3:\n%s", code, out)
	}
	expect(t, out, "mqtt", "FAIL", "logged in as dev-doc", "the broker refused the subscriptions to ptt/dev/dev-doc/floor/ctl\n",
		"→ the broker's ACL must let the device read its own topics")
}

// The certificate checks that need the clock: expired, not yet valid
// (the handset's clock is behind), about to expire, another name.
func TestDoctorCertificates(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		ca      func(*mqtttest.CA)
		yaml    string
		outcome string
		says    []string
	}{
		{"expired", func(ca *mqtttest.CA) { ca.NotBefore, ca.NotAfter = now.Add(-40*time.Hour), now.Add(-2*time.Hour) }, "", "FAIL",
			[]string{"the certificate expired on " + now.Add(-2*time.Hour).UTC().Format("2006-01-02") + "; if this handset's clock"}},
		{"not yet valid", func(ca *mqtttest.CA) { ca.NotBefore, ca.NotAfter = now.Add(2*time.Hour), now.Add(200*24*time.Hour) }, "", "FAIL",
			[]string{"the certificate is valid from", "the clock is wrong (timedatectl; enable NTP)"}},
		{"expires in 3 days", func(ca *mqtttest.CA) { ca.NotAfter = now.Add(3*24*time.Hour + time.Hour) }, "", "WARN",
			[]string{"(3 days)", "→ the certificate expires soon"}},
		{"another name", nil, "mqtt: {tls: {server_name: broker.internal}}\n", "FAIL",
			[]string{"→ the certificate names 127.0.0.1, not broker.internal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			yaml := tc.yaml
			b := newBench(t, benchOptions{ca: tc.ca})
			if yaml != "" { // merge into the mqtt section
				cfg, _ := os.ReadFile(b.cfg)
				cfg = bytes.Replace(cfg, []byte("  reconnect_min: 100ms\n"), []byte("  reconnect_min: 100ms\n  tls: {ca_file: "+b.ca.CertFile+", server_name: broker.internal}\n"), 1)
				cfg = bytes.Replace(cfg, []byte("  tls: {ca_file: "+b.ca.CertFile+"}\n"), nil, 1)
				os.WriteFile(b.cfg, cfg, 0o644)
			}
			code, out := b.doctor(t)
			if want := map[string]int{"WARN": 1, "FAIL": 3}[tc.outcome]; code != want {
				t.Errorf("exit %d, want %d:\n%s", code, want, out)
			}
			expect(t, out, "tls", tc.outcome, tc.says...)
		})
	}
}

// With the agent running, doctor leaves its receiver, sound card and
// broker session alone and reports what the agent says.
func TestDoctorWithTheAgentRunning(t *testing.T) {
	b := newBench(t, benchOptions{})
	p := startAgentEnv(t, b.cfg, b.env)
	sock := filepath.Join(b.dir, "run", "status.sock")
	waitFor(t, p, 30*time.Second, "the agent connected, synced, with a fix", func() bool {
		_, out, _ := runBinary(t, nil, "status", "--socket", sock)
		return strings.HasPrefix(out, "OK — uplink connected, GPS 3D")
	})
	code, out := b.doctor(t)
	if code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	expect(t, out, "config", " OK ", "the agent is running")
	expect(t, out, "gps", " OK ", "the agent reads")
	expect(t, out, "mqtt", " OK ", "the running agent is connected to "+b.broker.URL(), "not logged in again")
	expect(t, out, "platform", " OK ", "the running agent synced with")
	expect(t, out, "sound", " OK ", "the agent has its microphone and speaker open")
	if strings.Contains(p.log.String(), "mqtt connection lost") {
		t.Errorf("doctor disturbed the agent's broker session:\n%s", p.log.String())
	}
	// Nor does audio test take the agent's sound card.
	code, _, errOut := runBinary(t, b.env, "audio", "test", "--config", b.cfg, "--seconds", "1")
	if code != 1 || !strings.Contains(errOut, "the agent is running and holds the sound card: stop it first") {
		t.Errorf("audio test beside the agent: exit %d: %s", code, errOut)
	}
}

// Garbage at the configured rate: each standard rate is tried and the
// one that gives NMEA named. A pty has no baud rate, so the port here is
// a fake that speaks NMEA at 38400 baud only.
func TestDoctorGuessesTheBaudRate(t *testing.T) {
	sentences := []byte("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n" +
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
	garbage := []byte("\xf0\x0e\x80\xfe~x\x86\x18\x00\xe6\x9e\x06\xf8\x80")
	for _, tc := range []struct {
		name    string
		speaks  int // the receiver's rate; 0: garbage at every rate
		outcome outcome
		says    []string
	}{
		{"38400", 38400, stepFail, []string{"at 9600 baud:", "no NMEA sentence (garbage", "at 38400 baud: ", "the receiver speaks 38400 baud"}},
		{"none", 0, stepFail, []string{"no NMEA sentence"}},
		{"9600", 9600, stepOK, []string{"at 9600 baud: ", "fix 3D, 8 satellites"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tried []int
			d := &doctor{cfg: configtest.Load(t, "", "device: {account: x}\ngps: {device: /dev/null}\nmqtt: {brokers: [\"tcp://127.0.0.1:1\"]}\nstate_dir: \"{dir}/s\"\nruntime_dir: \"{dir}/r\"\n"),
				openSerial: func(dev string, baud int) (serialPort, error) {
					tried = append(tried, baud)
					if baud == tc.speaks {
						return &fakePort{data: bytes.Repeat(sentences, 3)}, nil
					}
					return &fakePort{data: bytes.Repeat(garbage, 20)}, nil
				}}
			f := d.gps(context.Background())
			all := strings.Join(f.Lines, "\n") + "\n→ " + f.Hint
			if f.o != tc.outcome {
				t.Errorf("outcome %v, want %v:\n%s", f.o, tc.outcome, all)
			}
			for _, s := range tc.says {
				if !strings.Contains(all, s) {
					t.Errorf("lacks %q:\n%s", s, all)
				}
			}
			if tc.speaks == 38400 && f.Hint != "set gps.baud: 38400" {
				t.Errorf("hint %q", f.Hint)
			}
			if tc.speaks == 0 && len(tried) != len(standardBauds) {
				t.Errorf("tried %v, want every standard rate", tried)
			}
		})
	}
}

// fakePort gives its data, then read timeouts.
type fakePort struct{ data []byte }

func (p *fakePort) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		time.Sleep(10 * time.Millisecond)
		return 0, nil
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}
func (p *fakePort) SetReadTimeout(time.Duration) error { return nil }
func (p *fakePort) Close() error                       { return nil }

// doctor --json is the same findings for scripts.
func TestDoctorJSON(t *testing.T) {
	b := newBench(t, benchOptions{noGNSS: true})
	code, out := b.doctor(t, "--json")
	if code != 3 || !strings.Contains(out, `"step": "gps",`+"\n"+`    "outcome": "fail"`) || strings.Contains(out, "[FAIL]") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
