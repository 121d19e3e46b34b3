package platformsync

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/logbuf"
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

// A FIFO where platform.json should be must not hold up the start (opening
// one for reading waits for a writer): it is refused, with a warning, at
// once.
func TestLoadRefusesAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "platform.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	var log logbuf.Buffer
	e := &Engine{StatePath: path, Dialect: "corp", Account: "dev-1", Logger: slog.New(slog.NewTextHandler(&log, nil))}
	done := make(chan *platform.Model)
	go func() { done <- e.Load() }()
	select {
	case m := <-done:
		if m != nil {
			t.Errorf("a FIFO gave a model: %+v", m)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open so that the goroutine ends with the test.
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("Load blocked on a FIFO")
	}
	if !log.Contains("ignoring the persisted platform state") || !log.Contains("not a regular file") {
		t.Errorf("no warning: %s", log.String())
	}
	for _, p := range []string{t.TempDir(), "/dev/null"} {
		if m, err := load(p, "corp", "dev-1"); m != nil || err == nil {
			t.Errorf("%s: %+v %v", p, m, err)
		}
	}
}

// Whatever platform.json holds — damaged, truncated, hostile — loading it
// never panics, and a model it yields passes the same checks as a
// platform's answer and survives what the agent does with it first.
func FuzzLoadState(f *testing.F) {
	good, _ := json.Marshal(stateFile{V: 1, Model: &platform.Model{Dialect: "corp", Account: "dev-1",
		Self:   platform.Self{ID: 7, State: platform.StateEnabled, HasSettings: true, Track: 1},
		Groups: []platform.Group{{ID: 9, Name: "G", MemberVersion: 3, Members: []platform.Member{{ID: 7}, {ID: 8, Name: "B"}}}}}})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"v":1,"model":{"dialect":"corp","account":"dev-1","self":{"id":7},"groups":[{"id":9},{"id":9}]}}`))
	f.Add([]byte(`{"v":1,"model":{"dialect":"corp","account":"dev-1","self":{"id":7,"track":-1}}}`))
	f.Add([]byte(`{"v":1,"model":{"dialect":"corp","account":"dev-1","self":{"id":7},"groups":[{"id":1,"talk_limit":-5,"members":null}]}}`))
	f.Add([]byte(`{"v":1,"model":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\x00\xff"))
	path := filepath.Join(f.TempDir(), "platform.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := load(path, "corp", "dev-1")
		if err != nil {
			if m != nil {
				t.Fatalf("a model and an error: %v", err)
			}
			return
		}
		if m == nil {
			t.Fatal("no model and no error from a file that exists")
		}
		if err := m.Check(); err != nil {
			t.Fatalf("loaded a model that fails Check: %v", err)
		}
		m.Clone()
		platform.Diff(nil, m)
		platform.Diff(m, m)
		m.DefaultGroup()
	})
}
