package config

import (
	"os"
	"path/filepath"
	"testing"
)

// A warning (here: the GNSS receiver is not plugged in yet) lets the agent
// start, so it must not keep the secrets from being read: the agent would
// otherwise start without its passwords and fail to log in.
func TestSecretsReadDespiteWarnings(t *testing.T) {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "secrets.yaml"), []byte("platform_password: pw-a\nmqtt_password: m\n"), 0o600)
	os.WriteFile(filepath.Join(d, "agent.yaml"), []byte("device: {account: a}\nsecrets_file: secrets.yaml\n"+
		"gps: {device: "+filepath.Join(d, "no-such-receiver")+"}\nmqtt: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"), 0o644)
	cfg, warns, err := Load(filepath.Join(d, "agent.yaml"))
	if err != nil || len(warns) == 0 {
		t.Fatalf("want warnings and no error: %v %v", warns, err)
	}
	if cfg.Secrets.PlatformPassword != "pw-a" || cfg.Secrets.MQTTPassword != "m" {
		t.Errorf("secrets %+v", cfg.Secrets)
	}
}
