package config

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// hostileCase is one file of testdata/hostile (README.md there): a config
// a technician could get wrong or an attacker could write, with what
// loading it must say.
type hostileCase struct {
	name, path string
	wants      []string // substrings of the output, or "ok"
	secrets    []string // must not appear in the output
}

// loadHostile copies the corpus into a temporary directory (secrets files
// mode 0600 there, as git does not keep modes; links kept) and reads the
// headers.
func loadHostile(t *testing.T) (dir string, cases []hostileCase) {
	t.Helper()
	src := filepath.Join("testdata", "hostile")
	dir = t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(e.Name(), ".secrets.yaml") && !strings.Contains(e.Name(), "world-readable") {
			mode = 0o600
		}
		if err := os.WriteFile(to, data, mode); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".secrets.yaml") {
			continue
		}
		c := hostileCase{name: strings.TrimSuffix(e.Name(), ".yaml"), path: to}
		header := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(headerText(data))
		for _, line := range strings.Split(header, "\n") {
			if w, ok := strings.CutPrefix(line, "# want: "); ok {
				c.wants = append(c.wants, w)
			} else if s, ok := strings.CutPrefix(line, "# secret: "); ok {
				u, err := strconv.Unquote(s)
				if err != nil {
					t.Fatalf("%s: secret %s: %v", e.Name(), s, err)
				}
				c.secrets = append(c.secrets, u)
			} else if !strings.HasPrefix(line, "#") {
				break
			}
		}
		if len(c.wants) == 0 {
			t.Fatalf("%s has no \"# want:\" line", e.Name())
		}
		cases = append(cases, c)
	}
	return dir, cases
}

// headerText is the file as text, for its comment header: a UTF-16 case
// has its header in UTF-16 too.
func headerText(data []byte) string {
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xfe {
		return strings.TrimPrefix(string(data), "\ufeff")
	}
	u := make([]uint16, (len(data)-2)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(data[2+2*i:])
	}
	return string(utf16.Decode(u))
}

var problemLine = regexp.MustCompile(`^\{dir\}/[^:]+?(:[1-9][0-9]*)?: (warning: )?(\S+?):? `)

// judge says what is wrong with out, the problems printed for the case
// (its directory written {dir}), and refused, whether the config was
// refused; "" when nothing.
func (c hostileCase) judge(out string, refused bool) string {
	if slices.Equal(c.wants, []string{"ok"}) {
		if refused || out != "" {
			return "want it accepted without a warning, got:\n" + out
		}
		return ""
	}
	wantRefused := slices.ContainsFunc(c.wants, func(w string) bool { return !strings.Contains(w, ": warning: ") })
	var why []string
	if refused != wantRefused {
		why = append(why, "refused = "+strconv.FormatBool(refused)+", want "+strconv.FormatBool(wantRefused))
	}
	for _, w := range c.wants {
		if !strings.Contains(out, w) {
			why = append(why, "lacks "+strconv.Quote(w))
		}
	}
	for _, s := range c.secrets {
		if strings.Contains(out, s) {
			why = append(why, "shows the secret "+strconv.Quote(s))
		}
	}
	keys := Keys()
	for _, line := range strings.Split(out, "\n") {
		m := problemLine.FindStringSubmatch(line)
		switch {
		case strings.HasPrefix(line, "… and "):
		case m == nil:
			why = append(why, "a line without the file: "+strconv.Quote(line))
		case m[1] == "" && !slices.Contains(keys, m[3]):
			// Only a key absent from the file has no line to point to.
			why = append(why, "a line without a line number: "+strconv.Quote(line))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return strings.Join(why, "\n") + "\ngot:\n" + out
}

// TestHostileConfigs loads every config of the corpus as the daemon and
// check-config do (Load) and checks the verdict, the messages with their
// lines, and that no secret shows.
func TestHostileConfigs(t *testing.T) {
	dir, cases := loadHostile(t)
	if len(cases) < 100 {
		t.Fatalf("only %d hostile configs", len(cases))
	}
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			_, warns, err := Load(c.path)
			var ps Problems
			if err != nil && !errors.As(err, &ps) {
				t.Fatalf("not a Problems: %v", err)
			}
			out := ps.Error()
			if err == nil {
				out = Problems(warns).Error()
			}
			if why := c.judge(strings.ReplaceAll(out, dir, "{dir}"), err != nil); why != "" {
				t.Error(why)
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("%d of %d hostile configs handled", passed, len(cases))
}
