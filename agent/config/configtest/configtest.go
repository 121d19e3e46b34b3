// Package configtest writes config files for tests the way a technician
// does: a YAML file on disk (and a secrets file beside it, mode 0600),
// loaded through the same code the daemon runs.
package configtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pttagent/pttagent/agent/config"
)

// Write writes yaml as agent.yaml in dir (a new temporary directory when
// dir is ""), with every "{dir}" replaced by that directory, and returns
// the file's path.
func Write(t testing.TB, dir, yaml string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "{dir}", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Secrets writes a secrets file (mode 0600, as the agent requires) named
// secrets.yaml beside the config at configPath, and returns its path.
func Secrets(t testing.TB, configPath, yaml string) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(configPath), "secrets.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Load writes yaml as Write does and loads it as the daemon would,
// failing the test when the config is refused.
func Load(t testing.TB, dir, yaml string) *config.Config {
	t.Helper()
	path := Write(t, dir, yaml)
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatalf("config %s refused: %v\n%s", path, err, yaml)
	}
	return cfg
}
