package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `device:
  account: dev-0001
gps:
  device: /dev/null
mqtt:
  brokers: [tcp://127.0.0.1:1883]
`

func TestMinimalConfigGetsDefaults(t *testing.T) {
	cfg, warns, err := Parse("/etc/pttagent/agent.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if cfg.GPS.Baud != 9600 || cfg.Tracks.Queue.MaxPoints != 100_000 || cfg.Tracks.Periods.High.D() != time.Minute {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.MQTT.TopicPrefix != "ptt" || !cfg.Tracks.LocShare || cfg.Tracks.Track != 1 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestProblemsNameFileLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error, in order of appearance
	}{
		{"unknown key with suggestion", minimal + "gps2:\n  baud: 9600\n", []string{"agent.yaml:7: gps2: unknown key; did you mean gps?"}},
		{"nested typo", strings.Replace(minimal, "  device: /dev/null", "  device: /dev/null\n  baudrate: 9600", 1), []string{"agent.yaml:5: gps.baudrate: unknown key; did you mean gps.baud?", "Valid keys under gps: baud, device, modem, silence_timeout"}},
		{"wrong type", minimal + "tracks:\n  track: high\n", []string{`agent.yaml:8: tracks.track: must be a whole number, not "high"`}},
		{"bool", minimal + "tracks:\n  loc_share: maybe\n", []string{`agent.yaml:8: tracks.loc_share: must be true or false, not "maybe"`}},
		{"duration without unit", minimal + "tracks:\n  heartbeat: 300\n", []string{`agent.yaml:8: tracks.heartbeat: "300" has no unit; write 300s`}},
		{"out of range", minimal + "tracks:\n  queue:\n    max_points: 10\n", []string{"agent.yaml:9: tracks.queue.max_points: 10 is out of range; use 1000 to 10000000"}},
		{"baud", strings.Replace(minimal, "/dev/null", "/dev/null\n  baud: 9601", 1), []string{"agent.yaml:5: gps.baud: 9601 is not a standard rate; use one of 4800, 9600"}},
		{"reserved track", minimal + "tracks:\n  track: 4\n", []string{"agent.yaml:8: tracks.track: 4 is reserved"}},
		{"missing account", strings.Replace(minimal, "  account: dev-0001\n", "  name: x\n", 1), []string{"agent.yaml:1: device.account: required"}},
		{"empty file", "", []string{"device.account: required", "gps.device: required", "mqtt.brokers: required"}},
		{"plaintext to remote", strings.Replace(minimal, "tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883, tcp://broker.example.com:1883", 1), []string{"agent.yaml:6: mqtt.brokers[1]: tcp://broker.example.com:1883 is plaintext", "mqtt.allow_plaintext: true"}},
		{"password in main file", minimal + "  password: hunter2\n", []string{"agent.yaml:7: mqtt.password: unknown key", "secrets file"}},
		{"duplicate", minimal + "device:\n  account: x\n", []string{"agent.yaml:7: device: appears twice (first on line 1)"}},
		{"bad yaml", minimal + "tracks:\n track: 1\n  loc_share: true\n", []string{"agent.yaml:9: not valid YAML"}},
		{"section given a value", minimal + "tracks: 5\n", []string{`agent.yaml:7: tracks: must be a section of keys`}},
		{"bad account", strings.Replace(minimal, "dev-0001", "dev/0001", 1), []string{`agent.yaml:2: device.account: "dev/0001" may only hold`}},
		{"bad ca file", minimal + "  tls:\n    ca_file: /nonexistent/ca.pem\n", []string{"agent.yaml:8: mqtt.tls.ca_file: cannot read it: /nonexistent/ca.pem: no such file"}},
		{"cert without key", minimal + "  tls:\n    cert_file: c.pem\n", []string{"agent.yaml:7: mqtt.tls: cert_file and key_file go together"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse("/etc/pttagent/agent.yaml", []byte(tc.yaml))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("got %v, want Problems", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestWarningsDoNotStopTheAgent(t *testing.T) {
	y := strings.Replace(minimal, "/dev/null", "/dev/ttyNOPE", 1) + "  tls:\n    insecure_skip_verify: true\n"
	cfg, warns, err := Parse("a.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil || len(warns) != 2 {
		t.Fatalf("want 2 warnings, got %v", warns)
	}
	if !strings.Contains(warns[0].Error(), "a.yaml:4: warning: gps.device: /dev/ttyNOPE is not there now") {
		t.Errorf("warning 0 = %v", warns[0])
	}
}

func TestSecretsFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	sec := filepath.Join(dir, "secrets.yaml")
	if err := os.WriteFile(sec, []byte("mqtt_password: s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	y := minimal + "secrets_file: secrets.yaml\n"
	path := filepath.Join(dir, "agent.yaml")
	_, _, err := Parse(path, []byte(y))
	if err == nil || !strings.Contains(err.Error(), "agent.yaml:7: secrets_file: "+sec+" has mode 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("want a refusal naming chmod 600, got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatal("the error leaks the secret")
	}
	if err := os.Chmod(sec, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Parse(path, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secrets.MQTTPassword != "s3cret" {
		t.Errorf("password = %q", cfg.Secrets.MQTTPassword)
	}

	if err := os.WriteFile(sec, []byte("mqtt_pasword: s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Parse(path, []byte(y))
	if err == nil || !strings.Contains(err.Error(), sec+":1: mqtt_pasword: unknown key; did you mean mqtt_password?") {
		t.Fatalf("want the secrets file's own line, got %v", err)
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	cfg, _, err := Parse("/etc/pttagent/agent.yaml", []byte(minimal+"state_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/etc/pttagent/state" {
		t.Errorf("state_dir = %s", cfg.StateDir)
	}
}

// The shipped example is where technicians start, and what an unprovisioned
// handset would run: it is refused for its placeholder broker alone, and
// loads once a real one is written in.
func TestExampleConfigNeedsProvisioning(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "agent.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Parse(path, data)
	var errs []string
	var ps Problems
	errors.As(err, &ps)
	for _, p := range ps {
		if !p.Warning {
			errs = append(errs, p.Error())
		}
	}
	line := 1 + strings.Count(string(data[:strings.Index(string(data), "broker.example.com")]), "\n")
	if want := fmt.Sprintf("agent.example.yaml:%d: mqtt.brokers[0]: broker.example.com is a placeholder", line); len(errs) != 1 || !strings.Contains(errs[0], want) {
		t.Fatalf("want the placeholder broker refused, and nothing else: %v", err)
	}
	provisioned := strings.Replace(string(data), "broker.example.com", "broker.internal", 1)
	if _, _, err := Parse(path, []byte(provisioned)); err != nil {
		t.Errorf("with a real broker: %v", err)
	}
}

// Every key must be documented in docs/config.md with its default.
func TestEveryKeyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/config.md does not document `%s`", key)
		}
	}
}
