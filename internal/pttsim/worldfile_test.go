package pttsim_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
)

// The example world of docs/ builds the org it describes: members with
// their settings, groups with their rules, memberships with theirs.
func TestWorldFileExample(t *testing.T) {
	wf, err := pttsim.LoadWorld(filepath.Join("..", "..", "docs", "pttsim-world.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, pttsim.Options{})
	rep, err := s.ApplyWorld(wf)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Created, ","); got != "dispatch,unit-01,unit-02,unit-03,duty-officer" {
		t.Errorf("created %s", got)
	}
	member := func(acct string) pttsim.Member {
		m, ok := s.MemberByNum(acct)
		if !ok {
			t.Fatalf("%s not created", acct)
		}
		return m
	}
	disp, u1, u2, u3, duty := member("dispatch"), member("unit-01"), member("unit-02"), member("unit-03"), member("duty-officer")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"dispatch type", disp.Type, pttsim.TypeOwner},
		{"unit-01 track", u1.Track, 2},
		{"unit-01 loc_share (a device's default)", u1.LocShare, 1},
		{"unit-01 tts (default off)", u1.TTS, 0},
		{"unit-02 tts", u2.TTS, 1},
		{"unit-02 priority", u2.Priority, 3},
		{"unit-02 track (default high)", u2.Track, 1},
		{"unit-03 loc_share", u3.LocShare, 0},
		{"unit-03 state", u3.State, pttsim.StatePaused},
		{"duty-officer type", duty.Type, pttsim.TypeUser},
		{"duty-officer loc_share (a person's default)", duty.LocShare, 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if sum := md5.Sum([]byte("bench-pw")); u1.Password != hex.EncodeToString(sum[:]) {
		t.Errorf("unit-01's password stored as %q, want the MD5 of bench-pw (what clients send)", u1.Password)
	}
	if len(rep.Groups) != 2 {
		t.Fatalf("groups %+v", rep.Groups)
	}
	patrol, command := rep.Groups[0], rep.Groups[1]
	if patrol.Name != "Patrol" || patrol.Creator != disp.ID || patrol.TalkTime != 30 || patrol.BurstMode != 0 || len(patrol.Members) != 4 {
		t.Errorf("Patrol = %+v", patrol)
	}
	for _, gm := range patrol.Members {
		want := "Y"
		if gm.UserID == u3.ID {
			want = "N"
		}
		if gm.CanSpeak != want || gm.CallPermission != "Y" {
			t.Errorf("Patrol member %d can_speak %s call_permission %s, want %s/Y", gm.UserID, gm.CanSpeak, gm.CallPermission, want)
		}
	}
	if command.Shutup != 1 || command.BurstMode != 2 || command.TalkTime != 60 || command.Creator != disp.ID || len(command.Members) != 3 {
		t.Errorf("Command = %+v", command)
	}
	for _, gm := range command.Members {
		if gm.UserID == u2.ID && gm.Priority != 1 {
			t.Errorf("unit-02's priority in Command = %d, want 1", gm.Priority)
		}
	}
}

// Applying a world again (a restart with -state) creates nothing twice,
// keeps what an operator changed, and adds the memberships the file
// gained.
func TestWorldFileAppliedAgain(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	first, err := pttsim.ParseWorld("w1", []byte(`
members:
  - {account: op, type: owner, password: op}
  - {account: a, password: pw, track: 2}
groups:
  - {name: G, members: [op, a]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyWorld(first); err != nil {
		t.Fatal(err)
	}
	a, _ := s.MemberByNum("a")
	if _, err := s.ChangeMember(a.ID, func(m *pttsim.Member) { m.Track = 3 }); err != nil {
		t.Fatal(err)
	}
	second, err := pttsim.ParseWorld("w2", []byte(`
members:
  - {account: op, type: owner, password: op}
  - {account: a, password: pw, track: 2}
  - {account: b, password: pw}
groups:
  - {name: G, members: [op, a, b]}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.ApplyWorld(second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Created, ",") != "b" || strings.Join(rep.Kept, ",") != "op,a" {
		t.Errorf("created %v kept %v", rep.Created, rep.Kept)
	}
	if a, _ := s.MemberByNum("a"); a.Track != 3 {
		t.Errorf("the operator's track 3 was overwritten: %d", a.Track)
	}
	if gs := s.Groups(); len(gs) != 1 || len(gs[0].Members) != 3 {
		t.Errorf("groups %+v, want G with 3 members", gs)
	}
}

// Every problem of a file is reported at once, each with its line and
// what would be valid; nothing is created from a file that does not check.
func TestWorldFileErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "members:\n  - {account: a, password: x, colour: red}\n", []string{"line 2", "colour"}},
		{"unknown key in a membership", "members:\n  - {account: o, type: owner, password: x}\ngroups:\n  - name: G\n    members:\n      - {account: o, speak: no}\n",
			[]string{"line 6", "speak"}},
		{"not YAML", "members: [\n", []string{"w.yaml"}},
		{"everything wrong", `members:
  - {account: "a/b", password: x}
  - {account: dup, password: x}
  - {account: dup, password: x}
  - {account: nopw}
  - {account: t, type: robot, password: x}
  - {account: s, password: x, state: asleep, track: -1, priority: 11}
groups:
  - {name: "", members: [dup]}
  - name: G
    creator: ghost
    burst_mode: 3
    talk_time: -5
    members:
      - dup
      - dup
      - ghost
      - {account: s, priority: 12}
  - {name: G, creator: dup}
`, []string{
			`w.yaml:2: members[0].account "a/b": want 1–64 letters`,
			`w.yaml:4: members[2].account "dup": already a member at line 3`,
			`w.yaml:5: members[3].password: required for a device`,
			`w.yaml:6: members[4].type "robot": want device, user or owner`,
			`w.yaml:7: members[5].state "asleep"`,
			`w.yaml:7: members[5].track -1`,
			`w.yaml:7: members[5].priority 11`,
			`w.yaml:9: groups[0].name: required`,
			`w.yaml:9: groups[0].creator: give one, or list a member of type owner`,
			`w.yaml:10: groups[1].creator "ghost": not in members`,
			`w.yaml:10: groups[1].burst_mode 3`,
			`w.yaml:10: groups[1].talk_time -5`,
			`w.yaml:16: groups[1].members[1] "dup": listed twice`,
			`w.yaml:17: groups[1].members[2] "ghost": not in members`,
			`w.yaml:18: groups[1].members[3].priority 12`,
			`w.yaml:19: groups[2].name "G": already a group at line 10`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pttsim.ParseWorld("w.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := pttsim.ParseWorld("w.yaml", []byte("members:\n  - {account: x}\n")); !errors.Is(err, pttsim.ErrBadWorld) {
		t.Errorf("a file that does not check: %v, want ErrBadWorld", err)
	}
	if wf, err := pttsim.ParseWorld("empty.yaml", nil); err != nil || len(wf.Members) != 0 {
		t.Errorf("an empty file: %v, %v; want an empty world", wf, err)
	}
}

// A world file is a technician's text: whatever it holds, parsing it
// gives a world or an error, never a panic, and a world it accepts can be
// built.
func FuzzWorldFile(f *testing.F) {
	f.Add([]byte("members:\n  - {account: o, type: owner, password: x}\n  - {account: a, password: y}\ngroups:\n  - {name: G, members: [o, a]}\n"))
	f.Add([]byte("groups:\n  - name: G\n    members:\n      - {account: a, can_speak: false}\n"))
	f.Add([]byte("members: [&a {account: x}, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, err := pttsim.ParseWorld("fuzz.yaml", data)
		if err != nil {
			return
		}
		s, err := pttsim.New(pttsim.Options{FileDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyWorld(wf); err != nil {
			t.Fatalf("a world that checked could not be built: %v", err)
		}
	})
}
