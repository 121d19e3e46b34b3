package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// allocated runs f and returns the bytes it allocated (all the process
// did meanwhile: the tests here do not run in parallel).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 50 MB config was parsed with 300–940 MB of memory: now it is refused
// unread, with a message that says why.
func TestOversizedConfigIsNotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("# comment\n"), 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	n := allocated(func() { _, _, err = Load(path) })
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Error() != path+": is 52428800 bytes; a config is a few kilobytes, and at most 131072 bytes are read: is this the right file?" {
		t.Fatalf("got %v", err)
	}
	if n > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", n)
	}
}

// The worst a file just under the limit can do: memory stays bounded
// (yaml.v3's node tree is the bulk), every problem has its line, and a
// flood of problems is cut short with a count.
func TestLargeConfigsStayBounded(t *testing.T) {
	fill := func(unit string) string {
		return strings.Repeat(unit, (MaxFileSize-100)/len(unit))
	}
	unique := func() string {
		var b strings.Builder
		for i := 0; b.Len() < MaxFileSize-100; i++ {
			fmt.Fprintf(&b, "k%d: 1\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"flow list", "mqtt:\n  brokers: [" + fill("a,") + "]\n", "agent.yaml:2: mqtt.brokers: 65486 items; at most 16"},
		{"aliases", "a: &a x\nb: [" + fill("*a,") + "]\n", "agent.yaml:1: a: unknown key"},
		{"flow maps", "tracks: [" + fill("{a: 1},") + "]\n", "agent.yaml:1: tracks: must be a section of keys"},
		{"unknown keys", unique(), "agent.yaml: … and 14109 more problems"},
		{"deep nesting", "x: " + fill("["), "agent.yaml:1: not valid YAML: exceeded max depth of 10000"},
		{"deep maps", fill("{a: "), "agent.yaml:1: not valid YAML: exceeded max depth of 10000"},
		{"tabs", fill("a:\n\tb: 1\n"), "agent.yaml: … and 14452 more problems"},
		{"NULs", fill("\x00\n"), "agent.yaml:100: control character 0x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, _, err = parse("/etc/pttagent/agent.yaml", []byte(tc.yaml), false) })
			var ps Problems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want …%s…, got %.300v", tc.want, err)
			}
			if len(ps) > 2*maxProblems {
				t.Errorf("%d problems kept", len(ps))
			}
			for _, p := range ps {
				if p.Line == 0 && p.Key == "" && !isMoreNote(p) {
					t.Errorf("no line: %v", p)
				}
			}
			// Measured 16 MB for the flow list; the bound leaves room for
			// yaml.v3's versions, not for a parser that holds the file
			// many times over.
			if n > 200*MaxFileSize {
				t.Errorf("allocated %d MB for %d KB", n>>20, len(tc.yaml)>>10)
			}
			t.Logf("%d KB allocated", n>>10)
		})
	}
}

// FuzzParse: whatever the bytes, the parser returns (no panic), allocates
// memory in proportion to them, and every problem names the file and a
// line, unless it is about a key absent from the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "tracks:\n  track: 1.9\n---\nx: 1\n"))
	f.Add([]byte("a:\n\tb: 1\n"))
	f.Add([]byte("mqtt: {brokers: [&a x, *a]}\n<<: {}\n"))
	if entries, err := os.ReadDir(filepath.Join("testdata", "hostile")); err == nil {
		for _, e := range entries {
			if data, err := os.ReadFile(filepath.Join("testdata", "hostile", e.Name())); err == nil && !e.Type().IsDir() {
				f.Add(data)
			}
		}
	}
	const path = "/nonexistent/agent.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		n := allocated(func() { _, _, err = parse(path, data, false) })
		if limit := uint64(400*len(data)) + 8<<20; n > limit {
			t.Errorf("%d bytes of input allocated %d bytes", len(data), n)
		}
		if err == nil {
			return
		}
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("not Problems: %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		for _, p := range ps {
			switch {
			case p.File == "":
				t.Errorf("no file: %v", p)
			case p.File != path: // the secrets file, named in the config
			case isMoreNote(p) || len(data) > MaxFileSize:
			case p.Line == 0 && p.Key == "":
				t.Errorf("no line: %v", p)
			case p.Line > lines:
				t.Errorf("line %d of %d: %v", p.Line, lines, p)
			}
		}
	})
}
