package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The secrets of these tests, one with the characters that come out
// escaped in JSON and in Go-quoted log values.
var bugSecrets = map[string]string{
	"mqtt_password":     `Mq"tt\pass-word-1`,
	"platform_password": "Platform-Bug-Secret-2",
	"platform_token":    "Token-Bug-Secret-3",
}

func bugSecretsYAML() string {
	var b strings.Builder
	for k, v := range bugSecrets {
		b.WriteString(k + ": '" + v + "'\n")
	}
	return b.String()
}

// forbidden is every form a secret could leak in: as written, its MD5
// (which the corp login sends), JSON-escaped, Go-quoted.
func forbidden() []string {
	var out []string
	for _, v := range bugSecrets {
		sum := md5.Sum([]byte(v))
		j, _ := json.Marshal(v)
		q := strconv.Quote(v)
		out = append(out, v, hex.EncodeToString(sum[:]), strings.ToUpper(hex.EncodeToString(sum[:])), string(j[1:len(j)-1]), q[1:len(q)-1])
	}
	return out
}

// untar reads a .tar.gz into names and contents.
func untar(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[filepath.Base(h.Name)] = string(data)
	}
}

// A bug report of a running handset: what a developer needs, and no
// secret from the secrets file in any form, even where something (here a
// journal that logged one) wrote it.
func TestBugreport(t *testing.T) {
	b := startBench(t, agentOptions{platPassword: bugSecrets["platform_password"], secrets: bugSecretsYAML()})
	b.waitVerdict(t, 30*time.Second, okVerdict)
	// The journal, as if something had logged the secrets.
	bin := t.TempDir()
	var leak strings.Builder
	leak.WriteString("#!/bin/sh\ncat <<'EOF'\n")
	for _, s := range forbidden() {
		leak.WriteString("2026-11-21T10:00:00+0000 handset pttagent[1]: level=INFO msg=oops value=" + s + "\n")
	}
	leak.WriteString("2026-11-21T10:00:01+0000 handset pttagent[1]: level=INFO msg=\"mqtt connected\" broker=tcp://dev:urlpw@10.0.0.1:1883\nEOF\n")
	os.WriteFile(filepath.Join(bin, "journalctl"), []byte(leak.String()), 0o755)

	out := filepath.Join(t.TempDir(), "report.tar.gz")
	code, stdout, stderr := runBinary(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "ALSA_CONFIG_PATH=" + filepath.Join(b.dir, "asound.conf")},
		"bugreport", "--config", b.cfg, "--output", out, "--doctor")
	if code != 0 || !strings.HasPrefix(stdout, "wrote "+out) {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("the archive has mode %v: it holds the handset's position", fi.Mode().Perm())
	}
	files := untar(t, out)
	for _, name := range []string{"README.txt", "version.txt", "status.json", "config.yaml", "secrets.txt", "journal.txt",
		"devices.txt", "state-dir.txt", "runtime-dir.txt", "doctor.json"} {
		if _, ok := files[name]; !ok {
			t.Errorf("no %s in the archive (%d files)", name, len(files))
		}
	}
	for name, data := range files {
		for _, s := range forbidden() {
			if strings.Contains(data, s) {
				t.Errorf("%s holds a secret (%q):\n%s", name, s, data)
			}
		}
		if strings.Contains(data, "urlpw") {
			t.Errorf("%s holds the password of a URL", name)
		}
	}
	for name, want := range map[string]string{
		"status.json":   `"verdict": "OK — uplink connected`,
		"version.txt":   "pttagent dev",
		"secrets.txt":   "holds: mqtt_password, platform_password, platform_token",
		"journal.txt":   "value=[REDACTED]\n",
		"config.yaml":   "device: {account: dev-verdict}",
		"devices.txt":   "PortAudio devices",
		"state-dir.txt": "tracks.db\n",
		"doctor.json":   `"step": "platform"`,
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(files["journal.txt"], "broker=tcp://[REDACTED]@10.0.0.1:1883") {
		t.Errorf("journal.txt: the URL's credentials:\n%s", files["journal.txt"])
	}
	if !strings.Contains(files["state-dir.txt"], " recordings\n") {
		t.Errorf("state-dir.txt does not list the recordings directory:\n%s", files["state-dir.txt"])
	}
}

// A config the agent refuses (credentials in the broker's URL) and no
// agent: the report still comes, without the secrets, saying what it
// could not gather.
func TestBugreportOfABrokenHandset(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte("device: {account: dev-broken}\nsecrets_file: secrets.yaml\nmqtt: {brokers: [\"tcp://dev:Url-Secret-9@10.0.0.1:1883\"]}\ngps: {device: /dev/null}\nstate_dir: "+dir+"/state\nruntime_dir: "+dir+"/run\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "secrets.yaml"), []byte(bugSecretsYAML()), 0o600)
	bin := t.TempDir() // no journalctl here
	out := filepath.Join(dir, "r.tgz")
	code, stdout, stderr := runBinary(t, []string{"PATH=" + bin}, "bugreport", "--config", cfg, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	files := untar(t, out)
	for name, data := range files {
		for _, s := range append(forbidden(), "Url-Secret-9") {
			if strings.Contains(data, s) {
				t.Errorf("%s holds a secret (%q):\n%s", name, s, data)
			}
		}
	}
	for name, want := range map[string]string{
		"check-config.txt": "holds a user name or password",
		"journal.txt":      "journalctl is not installed",
		"status.json":      `"error": "is pttagent running?`,
		"README.txt":       "Not gathered:\n",
		"config.yaml":      "tcp://[REDACTED]@10.0.0.1:1883",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(stderr, "note: journal: no journalctl") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
