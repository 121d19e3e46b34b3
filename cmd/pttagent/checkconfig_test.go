package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pttagent/pttagent/agent/config/configtest"
)

// check-config and the daemon must agree: what check-config refuses, `run`
// refuses before anything starts, with the same lines; a state_dir the
// daemon cannot create used to pass check-config and then stop the daemon
// at start, in a restart loop.
func TestCheckConfigAndRunAgree(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"state_dir under /proc", "state_dir: /proc/pttagent\nruntime_dir: {dir}/run\n",
			"agent.yaml:5: state_dir: cannot create /proc/pttagent: /proc is the kernel's proc filesystem"},
		{"runtime_dir under a file", "state_dir: {dir}/state\nruntime_dir: {dir}/a-file/run\n",
			"agent.yaml:6: runtime_dir: cannot create " + dir + "/a-file/run: " + dir + "/a-file is a file, not a directory"},
		{"the example's broker", "state_dir: {dir}/state\nruntime_dir: {dir}/run\nmqtt: {brokers: [\"mqtts://broker.example.com:8883\"]}\n",
			"agent.yaml:6: mqtt.brokers[0]: broker.example.com is a placeholder"},
		{"credentials in the broker URL", "state_dir: {dir}/state\nruntime_dir: {dir}/run\nmqtt: {brokers: [\"tcp://dev:Secret-pw1@127.0.0.1:1883\"]}\n",
			"agent.yaml:6: mqtt.brokers[0]: tcp://dev:xxxxx@127.0.0.1:1883 holds a user name or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := "device: {account: dev-check}\ngps: {device: /dev/null}\n"
			if !strings.Contains(tc.yaml, "mqtt:") {
				base += "mqtt: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"
			}
			path := configtest.Write(t, dir, base+"log: {level: info}\n"+tc.yaml)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"check-config", path}, &stdout, &stderr)
			if !errors.Is(err, errProblems) || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("check-config: %v\n%s", err, stderr.String())
			}
			if strings.Contains(stderr.String(), "Secret-pw1") {
				t.Error("check-config shows the password")
			}
			checked := stderr.String()
			stderr.Reset()
			err = run(context.Background(), []string{"run", "--config", path}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "not starting") {
				t.Fatalf("run: %v", err)
			}
			// The daemon prints the same problems, without the summary.
			if want := checked[:strings.LastIndex(strings.TrimSuffix(checked, "\n"), "\n")+1]; stderr.String() != want {
				t.Errorf("run printed\n%s\ncheck-config\n%s", stderr.String(), want)
			}
		})
	}
}

// A handset installed from the package has no config until a technician
// writes one: check-config says where the example is.
func TestCheckConfigWithoutAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check-config", path}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no such file or directory (start from the commented example: cp /usr/share/doc/pttagent/agent.example.yaml "+path+", then edit it)") {
		t.Fatalf("got %v", err)
	}
}
