package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/platform"
)

// Summary is the verdict: one line that says whether the handset can do
// its jobs, for systemd's STATUS= and the first line of `pttagent status`.
// With no visible warning it lists what works:
//
//	OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT ready (group "Patrol"), voice over UDP
//
// otherwise it names the worst warning first, with its detail and hint,
// then the others:
//
//	PROBLEM — sound-card-absent: open capture default device: … → check audio.capture_device …; also uplink-down
//
// A condition still inside its warning's delay shows in the list of what
// works ("uplink connecting"), never as a problem, so the verdict agrees
// with the warnings below it. Text from the platform (group names) and
// from errors is escaped: the line reaches terminals.
func (s Status) Summary() string {
	now := s.at
	if now.IsZero() {
		now = time.Now()
	}
	if len(s.Warnings) == 0 {
		return "OK — " + strings.Join(s.facts(now), ", ")
	}
	ws := slices.Clone(s.Warnings)
	slices.SortStableFunc(ws, func(a, b health.Warning) int { return rank(a.Name) - rank(b.Name) })
	w := ws[0]
	var b strings.Builder
	b.WriteString("PROBLEM — ")
	b.WriteString(printable(w.Name))
	if w.Detail != "" {
		b.WriteString(": ")
		b.WriteString(printable(w.Detail))
	}
	if !w.Since.IsZero() {
		fmt.Fprintf(&b, " (for %s)", age(now.Sub(w.Since)))
	}
	if w.Hint != "" {
		b.WriteString(" → ")
		b.WriteString(printable(w.Hint))
	}
	if len(ws) > 1 {
		b.WriteString("; also ")
		for i, o := range ws[1:] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(printable(o.Name))
		}
	}
	return b.String()
}

// severity orders the warnings for the verdict, worst first: what stops
// the handset from working at all, then push-to-talk, then the link
// (tracks wait on disk, nothing is lost), then the position, then what a
// user can live with. Names not listed (a newer part's) come after.
var severity = []*health.Warnable{
	health.Deprovisioned,
	health.TokenRefused,
	health.SoundAbsent,
	health.UplinkDown,
	health.QueueCorrupt,
	health.QueueWriteFailed,
	health.SoundFailing,
	health.PlatformSyncFailing,
	health.GPSAbsent,
	health.GPSNoFix,
	health.BatteryLow,
	health.QueueBehind,
}

func rank(name string) int {
	for i, w := range severity {
		if w.Name == name {
			return i
		}
	}
	return len(severity)
}

// facts is what works (or is on its way), part by part.
func (s Status) facts(now time.Time) []string {
	var f []string
	switch u := s.Uplink; {
	case u.Connected:
		f = append(f, "uplink connected")
	case u.FailedAttempts > 0:
		f = append(f, fmt.Sprintf("uplink connecting (%d failed attempts)", u.FailedAttempts))
	default:
		f = append(f, "uplink connecting")
	}
	switch g := s.GPS; {
	case !g.Connected:
		f = append(f, "GPS device absent")
	case g.HasFix && g.Mode != "2D" && g.Mode != "3D":
		f = append(f, fmt.Sprintf("GPS fix (%d sats)", g.Sats))
	case g.HasFix:
		f = append(f, fmt.Sprintf("GPS %s (%d sats)", g.Mode, g.Sats))
	case g.LastFixAge < 0:
		f = append(f, "GPS no fix yet")
	default:
		f = append(f, fmt.Sprintf("GPS no fix (%d sats)", g.Sats))
	}
	if p := s.Platform; p != nil {
		switch {
		case p.LastError != "" && p.LastSync.IsZero():
			f = append(f, "platform not reachable yet")
		case p.LastError != "":
			f = append(f, "platform sync failing (last synced "+age(now.Sub(p.LastSync))+" ago)")
		case p.LastSync.IsZero():
			f = append(f, "platform not synced yet")
		default:
			f = append(f, "platform synced "+age(now.Sub(p.LastSync))+" ago")
		}
	}
	if p := s.PTT; p != nil {
		f = append(f, s.pttFact())
		if p.AudioError == "" && p.Transport != "" {
			v := "voice over " + strings.ToUpper(p.Transport)
			if p.VoiceCopy {
				v += " (two connections)"
			}
			f = append(f, v)
		}
	}
	if t := s.Tracks; !t.LocShare || t.PeriodS == 0 {
		f = append(f, "tracking off")
	} else if t.Queued > 0 {
		f = append(f, fmt.Sprintf("%d points queued", t.Queued))
	}
	return f
}

func (s Status) pttFact() string {
	p := s.PTT
	group := ""
	if p.ActiveGroup != 0 {
		name := p.ActiveGroupName
		if name == "" {
			name = strconv.FormatInt(p.ActiveGroup, 10)
		}
		group = " (group " + strconv.Quote(name) + ")"
	}
	switch {
	case p.AudioError != "":
		return "PTT unavailable (sound card)"
	case s.Platform != nil && s.Platform.State != "" && !platform.State(s.Platform.State).CanTalk():
		return "PTT not allowed (member " + printable(s.Platform.State) + ")"
	case p.ActiveGroup == 0:
		return "PTT without a group"
	case p.Floor == "has-permission":
		return "PTT talking" + group
	case p.Receiving:
		return "PTT receiving" + group
	}
	return "PTT ready" + group
}

// age is a duration as the verdict says it: "12 s", "3 min", "2 h", "4 days".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

// printable escapes what a terminal would act on (control characters,
// bidirectional overrides) in text that came from outside: an error from
// the network, a name from the platform.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
