// Package floor is the handset's side of floor control, after 3GPP TS
// 24.380 (MCPTT): a pure state machine. Step takes the current state and one
// input (the PTT key, a message from the platform's floor arbiter, a timer)
// and returns the next state and the side effects to carry out — send a
// request or a release, play a tone, start or stop the microphone, start or
// stop a timer. Nothing here touches a device, a clock or the network, so
// every transition is a row in a table test, and the agent carries out the
// actions in one place.
package floor

import (
	"fmt"
	"time"
)

// Phase is the TS 24.380 floor participant state of the handset.
type Phase uint8

const (
	Idle           Phase = iota // "U: has no permission": nobody asked, or someone else talks
	PendingRequest              // "U: pending Request": request sent, no answer yet
	HasPermission               // "U: has permission": the microphone is live
	Queued                      // "U: queued": the floor is taken, we are in line
	PendingRelease              // "U: pending Release": release sent, waiting for idle
)

func (p Phase) String() string {
	switch p {
	case Idle:
		return "idle"
	case PendingRequest:
		return "pending-request"
	case HasPermission:
		return "has-permission"
	case Queued:
		return "queued"
	case PendingRelease:
		return "pending-release"
	}
	return fmt.Sprintf("phase(%d)", p)
}

// State is everything the machine remembers. The zero State is idle.
type State struct {
	Phase Phase
	// Group is the group of the current request (or the last one).
	Group int64
	// Req numbers this handset's requests; answers carry it back.
	Req uint32
	// KeyDown is whether the PTT key is held.
	KeyDown bool
	// TalkLimit is the granted talk time (0 = none) while HasPermission.
	TalkLimit time.Duration
	// Position in the queue while Queued.
	Position int
	// Speaker is who else has the floor in Group ("" when idle or us).
	Speaker string
	// Cause is why the last request ended in deny or revoke.
	Cause string
}

// Config are the handset's own floor settings.
type Config struct {
	// DefaultTalkTime applies when a grant carries no limit (the corp API
	// has none); 0 means unlimited.
	DefaultTalkTime time.Duration
	// Warning is how long before the limit the warning tone sounds.
	Warning time.Duration
	// ResponseTimeout is how long a request or release waits for the
	// platform before the handset gives up.
	ResponseTimeout time.Duration
}

// InputKind says what happened.
type InputKind uint8

const (
	KeyPress   InputKind = iota + 1 // PTT pressed; Input.Group is the active group
	KeyRelease                      // PTT released
	Granted                         // platform: granted, Input.TalkTime (0 = no limit)
	Denied                          // platform: deny, Input.Cause
	QueuedMsg                       // platform: queued, Input.Position
	Revoked                         // platform: revoke, Input.Cause
	FloorIdle                       // platform: nobody talks in Input.Group
	Taken                           // platform: Input.Speaker talks in Input.Group
	TimerFired                      // Input.Timer with Input.Req expired
	Cancel                          // leave the floor now (group switch, shutdown)
)

// Timer names the machine's timers.
type Timer uint8

const (
	TimerResponse Timer = iota + 1 // no answer to a request or release
	TimerWarning                   // talk time nearly over
	TimerLimit                     // talk time over
)

// Input is one event for Step. Fields that do not belong to Kind are zero.
type Input struct {
	Kind  InputKind
	Group int64
	// Req is the request an answer (granted, deny, queued) or a timer
	// belongs to. An answer counts only when its group and Req are those of
	// the request waiting for it; a revoke or a timer with another Req is
	// stale (0: unknown, accepted).
	Req uint32
	// TalkTime (granted) is the platform's limit; 0 or less: none (the
	// config's DefaultTalkTime applies), and at most MaxTalkTime.
	TalkTime time.Duration
	Cause    string
	Position int
	Speaker  string
	Timer    Timer
}

// MaxTalkTime caps any talk time, whatever the platform grants: a limit
// that overflowed or makes no sense still ends the burst.
const MaxTalkTime = 24 * time.Hour

// ActionKind says what to do.
type ActionKind uint8

const (
	SendRequest  ActionKind = iota + 1 // publish a floor request for Action.Group with Action.Req
	SendRelease                        // publish a floor release for Action.Group
	PlayTone                           // play Action.Tone
	StartCapture                       // open the microphone and start sending voice
	StopCapture                        // stop the microphone, send the burst's last packet
	StartTimer                         // (re)start Action.Timer for Action.After; fire with Action.Req
	StopTimer                          // stop Action.Timer
)

// Tone names the generated signal tones (audio.Tones plays them).
type Tone uint8

const (
	ToneGrant   Tone = iota + 1 // talk now
	ToneDeny                    // not now
	ToneQueued                  // wait, you are in line
	ToneRevoke                  // the floor was taken from you
	ToneEnd                     // a burst ended (yours at the limit, or the speaker's)
	ToneWarning                 // talk time nearly over
)

func (t Tone) String() string {
	return [...]string{"none", "grant", "deny", "queued", "revoke", "end", "warning"}[min(int(t), 6)]
}

// Action is one side effect. Fields that do not belong to Kind are zero.
type Action struct {
	Kind  ActionKind
	Group int64
	Req   uint32
	Tone  Tone
	Timer Timer
	After time.Duration
}

// Step computes the next state and the actions for one input. It is pure:
// the same state and input always give the same result.
func Step(s State, in Input, c Config) (State, []Action) {
	var acts []Action
	do := func(a ...Action) { acts = append(acts, a...) }
	stale := func() bool { return in.Req != 0 && in.Req != s.Req }
	other := func() bool { return in.Group != 0 && in.Group != s.Group }
	// answers: a grant, deny or queued for the request in flight. One that
	// names no request, or another, must not open the microphone.
	answers := func() bool { return in.Req == s.Req && in.Group == s.Group }
	request := func(group int64) {
		s.Req++
		s.Group, s.Phase, s.Cause, s.Position = group, PendingRequest, "", 0
		do(Action{Kind: SendRequest, Group: group, Req: s.Req},
			Action{Kind: StartTimer, Timer: TimerResponse, After: c.ResponseTimeout, Req: s.Req})
	}
	release := func() {
		s.Phase = PendingRelease
		do(Action{Kind: SendRelease, Group: s.Group, Req: s.Req},
			Action{Kind: StartTimer, Timer: TimerResponse, After: c.ResponseTimeout, Req: s.Req})
	}
	stopTalking := func() {
		s.TalkLimit = 0
		do(Action{Kind: StopCapture}, Action{Kind: StopTimer, Timer: TimerWarning}, Action{Kind: StopTimer, Timer: TimerLimit})
	}
	grant := func() {
		s.Phase, s.Position, s.Speaker = HasPermission, 0, ""
		limit := in.TalkTime
		if limit <= 0 {
			limit = c.DefaultTalkTime
		}
		limit = min(limit, MaxTalkTime)
		s.TalkLimit = limit
		do(Action{Kind: StopTimer, Timer: TimerResponse}, Action{Kind: PlayTone, Tone: ToneGrant}, Action{Kind: StartCapture})
		if limit > 0 {
			if c.Warning > 0 && limit > c.Warning {
				do(Action{Kind: StartTimer, Timer: TimerWarning, After: limit - c.Warning, Req: s.Req})
			}
			do(Action{Kind: StartTimer, Timer: TimerLimit, After: limit, Req: s.Req})
		}
	}
	toIdle := func(tone Tone, cause string) {
		s.Phase, s.Position, s.Cause = Idle, 0, cause
		do(Action{Kind: StopTimer, Timer: TimerResponse})
		if tone != 0 {
			do(Action{Kind: PlayTone, Tone: tone})
		}
	}

	// Key state and who-speaks are tracked in every phase.
	switch in.Kind {
	case KeyPress:
		if s.KeyDown && s.Phase != Idle && s.Phase != PendingRelease {
			return s, nil // a repeated press: one request is enough
		}
		s.KeyDown = true
	case KeyRelease:
		if !s.KeyDown {
			return s, nil
		}
		s.KeyDown = false
	case Taken:
		if !other() {
			s.Speaker = in.Speaker
		}
	}

	switch s.Phase {
	case Idle:
		switch in.Kind {
		case KeyPress:
			if in.Group == 0 {
				do(Action{Kind: PlayTone, Tone: ToneDeny})
				s.Cause = "no-group"
				break
			}
			request(in.Group)
		case Granted:
			// A grant we no longer want (the key came up while queued, or a
			// duplicate): give the floor back at once so the group is not blocked.
			if in.Group != 0 {
				do(Action{Kind: SendRelease, Group: in.Group, Req: in.Req})
			}
		case FloorIdle:
			if !other() && s.Speaker != "" {
				s.Speaker = ""
				do(Action{Kind: PlayTone, Tone: ToneEnd})
			}
		}

	case PendingRequest:
		switch in.Kind {
		case KeyRelease:
			release()
		case Granted:
			if answers() {
				grant()
			}
		case Denied:
			if answers() {
				toIdle(ToneDeny, in.Cause)
			}
		case QueuedMsg:
			if answers() {
				s.Phase, s.Position = Queued, max(in.Position, 0)
				do(Action{Kind: StopTimer, Timer: TimerResponse}, Action{Kind: PlayTone, Tone: ToneQueued})
			}
		case TimerFired:
			if in.Timer == TimerResponse && !stale() {
				// Nobody answered: tell the user, and release in case the
				// platform granted into the void.
				toIdle(ToneDeny, "timeout")
				do(Action{Kind: SendRelease, Group: s.Group, Req: s.Req})
			}
		case Cancel:
			toIdle(0, "")
			do(Action{Kind: SendRelease, Group: s.Group, Req: s.Req})
		}

	case Queued:
		switch in.Kind {
		case KeyRelease, Cancel:
			// Leave the queue; a grant racing with this release is handed
			// back by the Idle+Granted row.
			toIdle(0, "")
			do(Action{Kind: SendRelease, Group: s.Group, Req: s.Req})
		case Granted:
			if answers() {
				grant()
			}
		case QueuedMsg:
			if answers() {
				s.Position = max(in.Position, 0)
			}
		case Denied:
			if answers() {
				toIdle(ToneDeny, in.Cause)
			}
		}

	case HasPermission:
		switch in.Kind {
		case KeyRelease:
			stopTalking()
			release()
		case Cancel:
			// Leaving (group switch, shutdown): no need to wait for the answer.
			stopTalking()
			s.Phase = Idle
			do(Action{Kind: SendRelease, Group: s.Group, Req: s.Req})
		case Revoked:
			// A revoke of an earlier burst (a stale req) must not cut this one.
			if !other() && !stale() {
				stopTalking()
				s.Cause = in.Cause
				do(Action{Kind: PlayTone, Tone: ToneRevoke})
				release()
			}
		case TimerFired:
			if stale() {
				break
			}
			switch in.Timer {
			case TimerWarning:
				do(Action{Kind: PlayTone, Tone: ToneWarning})
			case TimerLimit:
				stopTalking()
				s.Cause = "talk-time"
				do(Action{Kind: PlayTone, Tone: ToneEnd})
				release()
			}
		}

	case PendingRelease:
		switch in.Kind {
		case KeyPress:
			if in.Group == 0 {
				do(Action{Kind: PlayTone, Tone: ToneDeny})
				break
			}
			do(Action{Kind: StopTimer, Timer: TimerResponse})
			request(in.Group)
		case FloorIdle, Taken:
			if !other() {
				toIdle(0, s.Cause)
			}
		case TimerFired:
			if in.Timer == TimerResponse && !stale() {
				toIdle(0, s.Cause)
			}
		case Cancel:
			toIdle(0, s.Cause)
		}
	}
	return s, acts
}
