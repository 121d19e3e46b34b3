package platformsync

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pttagent/pttagent/platform"
)

func TestPersistRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "platform.json")
	m := &platform.Model{Dialect: "corp", Account: "dev-1", Self: platform.Self{ID: 7, State: platform.StatePaused, HasSettings: true, Track: 3},
		Groups: []platform.Group{{ID: 9, Name: "G", Members: []platform.Member{{ID: 7}}}}}
	if err := save(path, m); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".platform-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	got, err := load(path, "corp", "dev-1")
	if err != nil || got.Self != m.Self || len(got.Groups) != 1 {
		t.Fatalf("load: %+v %v", got, err)
	}
	for name, tc := range map[string]struct {
		content          string
		dialect, account string
	}{
		"other account": {"", "corp", "dev-2"},
		"other dialect": {"", "wapi", "dev-1"},
		"damaged":       {`{"v":1,"model":{"self":{"id":7}`, "corp", "dev-1"},
		"no member id":  {`{"v":1,"model":{"dialect":"corp","account":"dev-1","self":{"id":0}}}`, "corp", "dev-1"},
		"future":        {`{"v":2,"model":{}}`, "corp", "dev-1"},
	} {
		p := path
		if tc.content != "" {
			p = filepath.Join(dir, name+".json")
			os.WriteFile(p, []byte(tc.content), 0o600)
		}
		if m, err := load(p, tc.dialect, tc.account); err == nil || m != nil {
			t.Errorf("%s: loaded %+v", name, m)
		}
	}
	if m, err := load(filepath.Join(dir, "missing.json"), "corp", "dev-1"); m != nil || err != nil {
		t.Errorf("missing file: %v %v", m, err)
	}
	// An engine given a damaged file starts without a model, and says so.
	os.WriteFile(path, []byte("garbage"), 0o600)
	e := &Engine{StatePath: path, Dialect: "corp", Account: "dev-1"}
	if e.Load() != nil || e.Model() != nil {
		t.Error("a damaged file gave a model")
	}
}
