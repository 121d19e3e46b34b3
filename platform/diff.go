package platform

import (
	"fmt"
	"strconv"
)

// Diff describes what changed from old to new in words a technician reads
// in the log: "loc_share 1→0", "joined group Patrol (80000528)". old may be
// nil (everything in new is reported as new).
func Diff(old, new *Model) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if new == nil {
		return nil
	}
	if old == nil {
		old = &Model{}
	}
	o, n := old.Self, new.Self
	if o.ID != n.ID && o.ID != 0 {
		add("member id %d→%d", o.ID, n.ID)
	}
	if o.Name != n.Name && o.Name != "" {
		add("name %q→%q", o.Name, n.Name)
	}
	if o.State != n.State {
		add("state %s→%s", orUnknown(o.State), n.State)
	}
	if o.Device != n.Device {
		add("device %s→%s", orNone(o.Device), orNone(n.Device))
	}
	if o.Priority != n.Priority {
		add("priority %d→%d", o.Priority, n.Priority)
	}
	if o.Admin != n.Admin {
		add("admin %v→%v", o.Admin, n.Admin)
	}
	if n.HasSettings {
		if o.TTS != n.TTS || !o.HasSettings {
			add("tts %s→%s", b01(o.TTS, o.HasSettings), b01(n.TTS, true))
		}
		if o.LocShare != n.LocShare || !o.HasSettings {
			add("loc_share %s→%s", b01(o.LocShare, o.HasSettings), b01(n.LocShare, true))
		}
		if o.Track != n.Track || !o.HasSettings {
			add("track %s→%d", i01(o.Track, o.HasSettings), n.Track)
		}
	}
	for _, g := range new.Groups {
		og := old.Group(g.ID)
		if og == nil {
			add("joined group %q (%d, %d members)", g.Name, g.ID, len(g.Members))
			continue
		}
		pre := fmt.Sprintf("group %q (%d): ", g.Name, g.ID)
		if og.Name != g.Name {
			add("%sname was %q", pre, og.Name)
		}
		if og.BurstMode != g.BurstMode {
			add("%sburst_mode %s→%s", pre, og.BurstMode, g.BurstMode)
		}
		if og.Muted != g.Muted {
			add("%smuted %v→%v", pre, og.Muted, g.Muted)
		}
		if og.TalkLimit != g.TalkLimit {
			add("%stalk limit %s→%s", pre, og.TalkLimit, g.TalkLimit)
		}
		if og.Priority != g.Priority {
			add("%spriority %d→%d", pre, og.Priority, g.Priority)
		}
		if og.My != g.My {
			add("%smy permissions %+v→%+v", pre, og.My, g.My)
		}
		for _, m := range g.Members {
			om := findMember(og.Members, m.ID)
			switch {
			case om == nil:
				add("%smember %s joined", pre, memberName(m))
			case *om != m:
				add("%smember %s changed (priority %d→%d, tts %v→%v, loc_share %v→%v)", pre, memberName(m),
					om.Priority, m.Priority, om.TTS, m.TTS, om.LocShare, m.LocShare)
			}
		}
		for _, m := range og.Members {
			if findMember(g.Members, m.ID) == nil {
				add("%smember %s left", pre, memberName(m))
			}
		}
	}
	for _, g := range old.Groups {
		if new.Group(g.ID) == nil {
			add("left group %q (%d)", g.Name, g.ID)
		}
	}
	return out
}

func findMember(ms []Member, id int64) *Member {
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func memberName(m Member) string {
	if m.Name != "" {
		return fmt.Sprintf("%q (%d)", m.Name, m.ID)
	}
	return strconv.FormatInt(m.ID, 10)
}

func orUnknown(s State) State {
	if s == "" {
		return StateUnknown
	}
	return s
}

func b01(v, known bool) string {
	switch {
	case !known:
		return "?"
	case v:
		return "1"
	}
	return "0"
}

func i01(v int, known bool) string {
	if !known {
		return "?"
	}
	return strconv.Itoa(v)
}

func orNone(d DeviceState) DeviceState {
	if d == "" {
		return "-"
	}
	return d
}
