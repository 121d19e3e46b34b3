package arbiter

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/wire"
)

var t0 = time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)

// brief renders messages as "to type detail" lines for readable tables.
func brief(ms []Message) []string {
	out := []string{}
	for _, m := range ms {
		s := m.To + " " + string(m.Floor.Type)
		switch m.Floor.Type {
		case wire.FloorGranted:
			s += fmt.Sprintf(" req=%d t=%d", m.Floor.Req, m.Floor.TalkTime)
		case wire.FloorDeny, wire.FloorRevoke:
			s += " " + m.Floor.Cause
		case wire.FloorQueued:
			s += fmt.Sprintf(" %d", m.Floor.Position)
		case wire.FloorTaken:
			s += " " + m.Floor.Speaker
		}
		if m.Floor.Emergency {
			s += " SOS"
		}
		out = append(out, s)
	}
	return out
}

type step struct {
	at   time.Duration // since t0
	from string        // "" = Tick; "!name" = Drop(name); "~name" = EndEmergency(name)
	typ  wire.FloorType
	req  uint32
	want []string
	sos  bool // the request is an emergency
}

func req(at time.Duration, from string, n uint32, want ...string) step {
	return step{at, from, wire.FloorRequest, n, want, false}
}
func relz(at time.Duration, from string, want ...string) step {
	return step{at, from, wire.FloorRelease, 0, want, false}
}
func tick(at time.Duration, want ...string) step { return step{at: at, want: want} }

// sos is an emergency request: the host holds an alert of from.
func sos(at time.Duration, from string, n uint32, want ...string) step {
	return step{at, from, wire.FloorRequest, n, want, true}
}

func members(ms ...Member) []Member { return ms }

var (
	low    = Member{Account: "a-low", Priority: 8}
	mid    = Member{Account: "b-mid", Priority: 5}
	high   = Member{Account: "c-high", Priority: 1}
	admin  = Member{Account: "d-admin", Priority: 5, Admin: true}
	three  = members(low, mid, high)
	noTalk = 0 * time.Second
)

func TestArbiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group Group
		steps []step
	}{
		{"free floor is granted, others hear who talks, release makes it idle",
			Group{ID: 1, Members: three},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=0", "b-mid taken a-low", "c-high taken a-low"),
				relz(time.Second, "a-low", "a-low idle", "b-mid idle", "c-high idle"),
			}},
		{"burst_mode 0 queues by priority then arrival, and passes the floor on",
			Group{ID: 1, BurstMode: BurstQueue, Members: members(low, mid, high, Member{Account: "e-mid", Priority: 5})},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=0", "b-mid taken a-low", "c-high taken a-low", "e-mid taken a-low"),
				req(1, "b-mid", 1, "b-mid queued 1"),
				req(2, "e-mid", 1, "b-mid queued 1", "e-mid queued 2"),
				req(3, "c-high", 1, "c-high queued 1", "b-mid queued 2", "e-mid queued 3"),
				relz(4, "a-low", "c-high granted req=1 t=0", "a-low taken c-high", "b-mid taken c-high", "e-mid taken c-high", "b-mid queued 1", "e-mid queued 2"),
				relz(5, "b-mid", "e-mid queued 1"), // leaves the queue
				relz(6, "c-high", "e-mid granted req=1 t=0", "a-low taken e-mid", "b-mid taken e-mid", "c-high taken e-mid"),
			}},
		{"burst_mode 1 denies while taken",
			Group{ID: 1, BurstMode: BurstDeny, Members: three},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=0", "b-mid taken a-low", "c-high taken a-low"),
				req(1, "c-high", 1, "c-high deny taken"),
			}},
		{"burst_mode 2 pre-empts by higher priority only",
			Group{ID: 1, BurstMode: BurstPreempt, Members: three},
			[]step{
				req(0, "b-mid", 1, "b-mid granted req=1 t=0", "a-low taken b-mid", "c-high taken b-mid"),
				req(1, "a-low", 1, "a-low deny taken"), // lower
				req(2, "c-high", 4, "b-mid revoke preempted", "c-high granted req=4 t=0", "a-low taken c-high", "b-mid taken c-high"),
				req(3, "b-mid", 2, "b-mid deny taken"), // lower than the new talker
				relz(4, "b-mid", "b-mid taken c-high"), // the revoked talker's release: status only
			}},
		{"burst_mode 2 equal priority is denied",
			Group{ID: 1, BurstMode: BurstPreempt, Members: members(mid, admin)},
			[]step{
				req(0, "b-mid", 1, "b-mid granted req=1 t=0", "d-admin taken b-mid"),
				req(1, "d-admin", 1, "d-admin deny taken"),
			}},
		{"shutup: only admins talk",
			Group{ID: 1, Shutup: true, Members: members(mid, admin)},
			[]step{
				req(0, "b-mid", 1, "b-mid deny muted"),
				req(1, "d-admin", 1, "d-admin granted req=1 t=0", "b-mid taken d-admin"),
			}},
		{"canSpeak N is denied",
			Group{ID: 1, Members: members(low, Member{Account: "f-listener", Listener: true})},
			[]step{req(0, "f-listener", 1, "f-listener deny no-permission")}},
		{"paused, stunned, killed and disabled members have no PTT",
			Group{ID: 1, Members: members(low,
				Member{Account: "p", State: Paused}, Member{Account: "s", State: Stunned},
				Member{Account: "k", State: Killed}, Member{Account: "x", State: Disabled})},
			[]step{
				req(0, "p", 1, "p deny member-state"), req(0, "s", 1, "s deny member-state"),
				req(0, "k", 1, "k deny member-state"), req(0, "x", 1, "x deny member-state"),
			}},
		{"not a member", Group{ID: 1, Members: three},
			[]step{req(0, "stranger", 1, "stranger deny not-member")}},
		{"talk time is announced and enforced after the grace",
			Group{ID: 1, TalkTime: 30 * time.Second, Members: members(low, mid)},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=30", "b-mid taken a-low"),
				req(10*time.Second, "a-low", 2, "a-low granted req=2 t=20"), // a retry: the time left
				tick(30*time.Second + 500*time.Millisecond),                 // within the grace
				tick(31*time.Second, "a-low revoke talk-time", "a-low idle", "b-mid idle"),
			}},
		{"talk-time revoke passes the floor to the queue",
			Group{ID: 1, TalkTime: 10 * time.Second, Members: members(low, mid)},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=10", "b-mid taken a-low"),
				req(1, "b-mid", 3, "b-mid queued 1"),
				tick(11*time.Second, "a-low revoke talk-time", "b-mid granted req=3 t=10", "a-low taken b-mid"),
			}},
		{"a dropped talker frees the floor",
			Group{ID: 1, Members: three},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=0", "b-mid taken a-low", "c-high taken a-low"),
				{from: "!a-low", want: []string{"a-low idle", "b-mid idle", "c-high idle"}},
			}},
		{"unknown group", Group{ID: 1, Members: three},
			[]step{{from: "a-low", typ: wire.FloorRequest, req: 1, want: []string{"a-low deny not-member"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New()
			a.SetGroup(tc.group, t0)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				var got []Message
				switch {
				case s.from == "":
					got = a.Tick(now)
				case strings.HasPrefix(s.from, "!"):
					got = a.Drop(s.from[1:], now)
				case strings.HasPrefix(s.from, "~"):
					got = a.EndEmergency(s.from[1:], now)
				default:
					g := tc.group.ID
					if tc.name == "unknown group" {
						g = 99
					}
					got = a.Handle(s.from, wire.Floor{Type: s.typ, Group: g, Req: s.req, Emergency: s.sos}, now)
				}
				if b := brief(got); !reflect.DeepEqual(b, append([]string{}, s.want...)) {
					t.Fatalf("step %d (%s %s):\n got %q\nwant %q", i, s.from, s.typ, b, s.want)
				}
			}
		})
	}
}

func TestSetGroupRevokesAndDenies(t *testing.T) {
	a := New()
	g := Group{ID: 5, Members: members(low, mid, admin)}
	a.SetGroup(g, t0)
	a.Handle("a-low", wire.Floor{Type: wire.FloorRequest, Group: 5, Req: 1}, t0)
	a.Handle("b-mid", wire.Floor{Type: wire.FloorRequest, Group: 5, Req: 2}, t0)
	a.Handle("d-admin", wire.Floor{Type: wire.FloorRequest, Group: 5, Req: 3}, t0)
	if q := a.Queue(5); !reflect.DeepEqual(q, []string{"b-mid", "d-admin"}) {
		t.Fatalf("queue %v", q)
	}
	// The group is muted: the talker and the non-admin in line lose out,
	// the admin gets the floor.
	g.Shutup = true
	got := brief(a.SetGroup(g, t0.Add(time.Second)))
	want := []string{"b-mid deny muted", "a-low revoke muted", "d-admin granted req=3 t=0", "a-low taken d-admin", "b-mid taken d-admin"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if h, _ := a.Holder(5); h != "d-admin" {
		t.Fatalf("holder %q", h)
	}
	// The admin is paused.
	g.Members = members(low, mid, Member{Account: "d-admin", Admin: true, State: Paused})
	got = brief(a.SetGroup(g, t0.Add(2*time.Second)))
	if want := []string{"d-admin revoke member-state", "a-low idle", "b-mid idle", "d-admin idle"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := brief(a.RemoveGroup(5, t0)); len(got) != 0 {
		t.Fatalf("remove idle group: %q", got)
	}
}

func TestQueueLimitAndDeadline(t *testing.T) {
	a := New()
	a.MaxQueue = 1
	a.SetGroup(Group{ID: 1, TalkTime: 5 * time.Second, Members: three}, t0)
	if _, ok := a.NextDeadline(); ok {
		t.Fatal("deadline with nobody talking")
	}
	a.Handle("a-low", wire.Floor{Type: wire.FloorRequest, Group: 1, Req: 1}, t0)
	a.Handle("b-mid", wire.Floor{Type: wire.FloorRequest, Group: 1, Req: 1}, t0)
	got := brief(a.Handle("c-high", wire.Floor{Type: wire.FloorRequest, Group: 1, Req: 1}, t0))
	if !reflect.DeepEqual(got, []string{"c-high deny queue-full"}) {
		t.Fatalf("got %q", got)
	}
	if d, ok := a.NextDeadline(); !ok || !d.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	// A device cannot grant itself the floor.
	if got := a.Handle("b-mid", wire.Floor{Type: wire.FloorGranted, Group: 1}, t0); got != nil {
		t.Fatalf("granted from a device: %v", got)
	}
}

// The emergency rule (MCPTT emergency group call): a member with an
// alert takes the floor over any priority and burst mode, and keeps it.
func TestArbiterEmergency(t *testing.T) {
	listener := Member{Account: "f-listener", Priority: 9, Listener: true}
	for _, tc := range []struct {
		name  string
		group Group
		steps []step
	}{
		{"a free floor is granted as an emergency, without a talk time",
			Group{ID: 1, TalkTime: 30 * time.Second, Members: three},
			[]step{
				sos(0, "a-low", 1, "a-low granted req=1 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
				tick(time.Hour), // no talk-time revoke
			}},
		{"pre-empts a talker of any priority, in every burst mode: deny",
			Group{ID: 1, BurstMode: BurstDeny, Members: three},
			[]step{
				req(0, "c-high", 1, "c-high granted req=1 t=0", "a-low taken c-high", "b-mid taken c-high"),
				sos(1, "a-low", 7, "c-high revoke emergency", "a-low granted req=7 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
				req(2, "c-high", 2, "c-high deny taken"),
			}},
		{"pre-empts in burst mode 2, and a higher priority cannot take it back",
			Group{ID: 1, BurstMode: BurstPreempt, Members: three},
			[]step{
				req(0, "b-mid", 1, "b-mid granted req=1 t=0", "a-low taken b-mid", "c-high taken b-mid"),
				sos(1, "a-low", 2, "b-mid revoke emergency", "a-low granted req=2 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
				req(2, "c-high", 3, "c-high deny taken"),
				relz(3, "b-mid", "b-mid taken a-low SOS"), // the revoked talker's release: status, with the emergency
			}},
		{"burst mode 0: the queue waits behind the emergency and keeps its order",
			Group{ID: 1, BurstMode: BurstQueue, Members: three},
			[]step{
				req(0, "b-mid", 1, "b-mid granted req=1 t=0", "a-low taken b-mid", "c-high taken b-mid"),
				req(1, "c-high", 1, "c-high queued 1"),
				sos(2, "a-low", 5, "b-mid revoke emergency", "a-low granted req=5 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS", "c-high queued 1"),
				req(3, "b-mid", 2, "c-high queued 1", "b-mid queued 2"),
				relz(4, "a-low", "c-high granted req=1 t=0", "a-low taken c-high", "b-mid taken c-high", "b-mid queued 1"),
			}},
		{"a member already in line is taken out of it by its emergency",
			Group{ID: 1, BurstMode: BurstQueue, Members: three},
			[]step{
				req(0, "c-high", 1, "c-high granted req=1 t=0", "a-low taken c-high", "b-mid taken c-high"),
				req(1, "a-low", 1, "a-low queued 1"),
				sos(2, "a-low", 2, "c-high revoke emergency", "a-low granted req=2 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
			}},
		{"a second emergency waits first in line, even in burst mode 1 and a full queue",
			Group{ID: 1, BurstMode: BurstDeny, Members: three},
			[]step{
				sos(0, "a-low", 1, "a-low granted req=1 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
				sos(1, "c-high", 4, "c-high queued 1"),
				req(2, "b-mid", 1, "b-mid deny taken"),
				relz(3, "a-low", "c-high granted req=4 t=0 SOS", "a-low taken c-high SOS", "b-mid taken c-high SOS"),
			}},
		{"muted group and listen-only rights do not stop an emergency",
			Group{ID: 1, Shutup: true, Members: members(mid, listener)},
			[]step{
				req(0, "f-listener", 1, "f-listener deny no-permission"),
				sos(1, "f-listener", 2, "f-listener granted req=2 t=0 SOS", "b-mid taken f-listener SOS"),
				req(2, "f-listener", 3, "f-listener granted req=3 t=0 SOS"), // a retry keeps the emergency
			}},
		{"the member's state and membership do",
			Group{ID: 1, Members: members(low, Member{Account: "k", State: Killed}, Member{Account: "s", State: Stunned})},
			[]step{
				sos(0, "k", 1, "k deny member-state"),
				sos(0, "s", 1, "s deny member-state"),
				sos(0, "stranger", 1, "stranger deny not-member"),
			}},
		{"a talker's own emergency upgrades its floor",
			Group{ID: 1, TalkTime: 30 * time.Second, BurstMode: BurstPreempt, Members: three},
			[]step{
				req(0, "a-low", 1, "a-low granted req=1 t=30", "b-mid taken a-low", "c-high taken a-low"),
				sos(1, "a-low", 2, "a-low granted req=2 t=0 SOS"),
				req(2, "c-high", 1, "c-high deny taken"),
				tick(time.Minute),
			}},
		{"cancelled: the talker may be pre-empted again; a listener loses the floor",
			Group{ID: 1, BurstMode: BurstPreempt, Members: members(low, high, listener)},
			[]step{
				sos(0, "f-listener", 1, "f-listener granted req=1 t=0 SOS", "a-low taken f-listener SOS", "c-high taken f-listener SOS"),
				{from: "~f-listener", want: []string{"f-listener revoke no-permission", "a-low idle", "c-high idle", "f-listener idle"}},
				sos(1, "a-low", 2, "a-low granted req=2 t=0 SOS", "c-high taken a-low SOS", "f-listener taken a-low SOS"),
				{from: "~a-low"},
				req(2, "c-high", 1, "a-low revoke preempted", "c-high granted req=1 t=0", "a-low taken c-high", "f-listener taken c-high"),
			}},
		{"a dropped emergency talker frees the floor for the next",
			Group{ID: 1, Members: three},
			[]step{
				sos(0, "a-low", 1, "a-low granted req=1 t=0 SOS", "b-mid taken a-low SOS", "c-high taken a-low SOS"),
				req(1, "b-mid", 1, "b-mid queued 1"),
				{from: "!a-low", want: []string{"b-mid granted req=1 t=0", "a-low taken b-mid", "c-high taken b-mid"}},
				req(2, "c-high", 1, "c-high queued 1"), // b is no emergency: burst mode 0 queues
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New()
			a.SetGroup(tc.group, t0)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				var got []Message
				switch {
				case s.from == "":
					got = a.Tick(now)
				case strings.HasPrefix(s.from, "!"):
					got = a.Drop(s.from[1:], now)
				case strings.HasPrefix(s.from, "~"):
					got = a.EndEmergency(s.from[1:], now)
				default:
					got = a.Handle(s.from, wire.Floor{Type: s.typ, Group: tc.group.ID, Req: s.req, Emergency: s.sos}, now)
				}
				if b := brief(got); !reflect.DeepEqual(b, append([]string{}, s.want...)) {
					t.Fatalf("step %d (%s %s sos=%v):\n got %q\nwant %q", i, s.from, s.typ, s.sos, b, s.want)
				}
			}
		})
	}
}
