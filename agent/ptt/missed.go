package ptt

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/internal/regular"
	"github.com/pttagent/pttagent/platform"
)

// Missed messages: text and voice messages a group got while the handset
// was offline or listening to another group are caught up when it comes
// back to the group — after a reconnect, at start, on a switch — from
// the group's history (corp message-get-group-history-message): the
// newest Missed.Count, oldest first, after the live voice and prompts.
// Texts are read like live ones; voice messages (another handset's
// recording, Ogg Opus) are fetched from the platform's own address and
// played, each after its sender and age, so that nobody takes an old
// order for a new one.
//
// Nothing twice, across reboots: per group, {state_dir}/messages.json
// keeps the highest msg_id dealt with (mark) and the second up to which
// the group was heard (heard: the second before each catch-up began, the
// end of each burst heard live, the time of each text read live). A message is
// missed when it is newer than both, older than the catch-up's start, not
// this member's own, and younger than Missed.MaxAge. A group first seen
// is heard from then: nobody misses what was said before they joined.
// Runs on the loop, except the fetches.

// Missed configures the catch-up.
type Missed struct {
	// Count is how many of a group's newest missed messages are caught up
	// (0: none).
	Count int
	// MaxAge: older messages are not.
	MaxAge time.Duration
	// Voice plays missed voice messages; false only announces them.
	Voice bool
}

// Bounds of a missed voice message.
const (
	// maxVoiceFile bounds the file fetched: 20 kbit/s Opus of a minute is
	// 150 KB.
	maxVoiceFile = 1 << 20
	// maxVoiceClip bounds what is played of it.
	maxVoiceClip = 60 * time.Second
	// catchUpTimeout bounds one catch-up's requests.
	catchUpTimeout = 30 * time.Second
	// catchUpRetry is the first wait after a failed catch-up (doubling up
	// to Options' poll-like maxCatchUpRetry) while the group is listened.
	catchUpRetry    = 10 * time.Second
	maxCatchUpRetry = 5 * time.Minute
)

// MissedStatus is the catch-up in `status`.
type MissedStatus struct {
	CatchUps    uint64    `json:"catch_ups"`     // history reads
	Texts       uint64    `json:"texts"`         // missed texts read (or, tts off, shown here only)
	Voice       uint64    `json:"voice"`         // missed voice messages played
	Announced   uint64    `json:"announced"`     // missed voice messages only announced (Missed.Voice off)
	Unavailable uint64    `json:"unavailable"`   // voice messages that could not be fetched or decoded
	Failures    uint64    `json:"failures"`      // history reads that failed
	Last        time.Time `json:"last,omitzero"` // last catch-up
	LastError   string    `json:"last_error,omitempty"`
}

// groupMark is what of one group's messages was dealt with.
type groupMark struct {
	Mark  int64 `json:"mark"`  // msg_id
	Heard int64 `json:"heard"` // Unix seconds
}

type marksFile struct {
	V      int                  `json:"v"`
	Groups map[int64]*groupMark `json:"groups"`
}

// catchUp is the loop's state of the feature.
type catchUp struct {
	marks     map[int64]*groupMark
	listening int64  // the group of the listening spell under way; 0 none
	gen       uint64 // bumped when a spell starts or ends: late answers are dropped
	talker    bool   // someone else spoke in the active group since the last idle
	failures  int
	retry     *time.Timer
}

// missedItem is one message ready to be delivered.
type missedItem struct {
	m    platform.Message
	clip []int16 // a voice message's audio; nil: not available (or not fetched)
}

func (p *PTT) marksPath() string { return filepath.Join(p.o.StateDir, "messages.json") }

// loadMarks reads messages.json; a missing or damaged file starts afresh
// (every group heard from now: nothing is replayed).
func (p *PTT) loadMarks() {
	p.cu.marks = map[int64]*groupMark{}
	b, err := regular.Read(p.marksPath(), maxStateFile, regular.NoLinks)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var f marksFile
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil || f.V != 1 {
		p.log.Warn("ignoring the missed-message marks; groups count as heard from now", "file", p.marksPath(), "err", err)
		return
	}
	for g, m := range f.Groups {
		if g > 0 && m != nil {
			p.cu.marks[g] = m
		}
	}
}

// saveMarks writes messages.json atomically.
func (p *PTT) saveMarks() {
	b, _ := json.Marshal(marksFile{V: 1, Groups: p.cu.marks})
	path := p.marksPath()
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, b, 0o640)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		p.log.Warn("cannot keep which messages were heard; some may be repeated after a reboot", "file", path, "err", err)
	}
}

// markGroups follows the model's groups: a new group is heard from now,
// a group left is forgotten.
func (p *PTT) markGroups() {
	if p.model == nil || p.o.Missed.Count <= 0 {
		return
	}
	changed := false
	// Heard counts whole seconds, as the history's "created": what is
	// created in the second listening began is not taken as heard.
	now := time.Now().Unix() - 1
	for _, g := range p.model.Groups {
		if p.cu.marks[g.ID] == nil {
			p.cu.marks[g.ID] = &groupMark{Heard: now}
			changed = true
		}
	}
	for g := range p.cu.marks {
		if p.model.Group(g) == nil {
			delete(p.cu.marks, g)
			changed = true
		}
	}
	if changed {
		p.saveMarks()
	}
}

// handledLive records a text of group read (or shown) live.
func (p *PTT) handledLive(group, msgID, created int64) {
	m := p.cu.marks[group]
	if m == nil || p.o.Missed.Count <= 0 {
		return
	}
	if msgID > m.Mark || created > m.Heard {
		m.Mark, m.Heard = max(m.Mark, msgID), max(m.Heard, created)
		p.saveMarks()
	}
}

// floorHeard follows the active group's floor: when it goes idle after
// someone else spoke, what they said was heard live, and its recording
// must not come back as missed.
func (p *PTT) floorHeard(speaker string) {
	switch {
	case speaker != "" && speaker != p.o.Account:
		p.cu.talker = true
	case speaker == "" && p.cu.talker:
		p.cu.talker = false
		if m := p.cu.marks[p.active]; m != nil && p.cu.listening == p.active {
			m.Heard = max(m.Heard, time.Now().Unix())
			p.saveMarks()
		}
	}
}

// followMissed starts a catch-up when a spell of listening to the active
// group begins (the link up, the group chosen, the member allowed to
// listen) and forgets one under way when the spell ends.
func (p *PTT) followMissed() {
	p.markGroups()
	listening := int64(0)
	if p.up && p.active != 0 && p.parts.History != nil && p.o.Missed.Count > 0 && p.model != nil &&
		p.model.Self.Access().Listen {
		listening = p.active
	}
	if listening == p.cu.listening {
		return
	}
	p.cu.listening, p.cu.talker = listening, false
	p.cu.gen++
	p.cu.failures = 0
	if p.cu.retry != nil {
		p.cu.retry.Stop()
	}
	if listening != 0 {
		p.startCatchUp(listening)
	}
}

// startCatchUp reads the group's history beside the loop.
func (p *PTT) startCatchUp(group int64) {
	gen, t0, hist := p.cu.gen, time.Now(), p.parts.History
	var since groupMark
	if m := p.cu.marks[group]; m != nil {
		since = *m
	}
	ask := min(100, max(20, 4*p.o.Missed.Count))
	p.spawn(func() {
		ctx, cancel := context.WithTimeout(p.ctx, catchUpTimeout)
		defer cancel()
		msgs, err := hist.GroupHistory(ctx, group, ask)
		p.post(func() { p.historyRead(group, gen, t0, since, msgs, err) })
	})
}

// historyRead picks the missed messages out of the history.
func (p *PTT) historyRead(group int64, gen uint64, t0 time.Time, since groupMark, msgs []platform.Message, err error) {
	if gen != p.cu.gen {
		return // the spell ended meanwhile: the next one catches up
	}
	p.setStatus(func(s *Status) {
		s.Missed.CatchUps++
		s.Missed.Last = t0
		if err != nil {
			s.Missed.Failures++
			s.Missed.LastError = err.Error()
		} else {
			s.Missed.LastError = ""
		}
	})
	if err != nil {
		wait := min(maxCatchUpRetry, catchUpRetry<<min(p.cu.failures, 10))
		p.cu.failures++
		p.log.Warn("cannot read the group's missed messages", "group", group, "err", err, "retry_in", wait)
		p.cu.retry = p.after(wait, func() {
			if gen == p.cu.gen {
				p.startCatchUp(group)
			}
		})
		return
	}
	cur := p.cu.marks[group]
	if cur == nil {
		return
	}
	var top int64
	var items []missedItem
	for _, m := range msgs { // newest first
		top = max(top, m.ID)
		switch {
		case len(items) == p.o.Missed.Count:
		case m.ID <= cur.Mark || m.Created.Unix() <= since.Heard || !m.Created.Before(t0):
		case m.From == p.model.Self.ID, tooOld(p.o.Missed.MaxAge, t0, m.Created):
		case m.Type == platform.MessageText && m.Text != "", m.Type == platform.MessageVoice && m.VoiceURL != "":
			items = append(items, missedItem{m: m})
		}
	}
	slices.Reverse(items)
	if !p.o.Missed.Voice || p.snd.prompter == nil || !slices.ContainsFunc(items, isVoice) {
		p.deliverMissed(group, gen, t0, top, items)
		return
	}
	hist := p.parts.History
	p.spawn(func() {
		ctx, cancel := context.WithTimeout(p.ctx, catchUpTimeout)
		defer cancel()
		for i := range items {
			if !isVoice(items[i]) {
				continue
			}
			b, err := hist.FetchFile(ctx, items[i].m.VoiceURL, maxVoiceFile)
			if err == nil {
				items[i].clip, _, err = audio.DecodeOggOpus(b, maxVoiceClip)
			}
			if err != nil {
				p.log.Warn("missed voice message not available", "msg_id", items[i].m.ID, "err", err)
			}
		}
		p.post(func() { p.deliverMissed(group, gen, t0, top, items) })
	})
}

func isVoice(it missedItem) bool { return it.m.Type == platform.MessageVoice }

// tooOld reports whether a message created at c is too old to catch up
// at t0.
func tooOld(maxAge time.Duration, t0, c time.Time) bool {
	return maxAge > 0 && t0.Sub(c) > maxAge
}

// deliverMissed reads and plays the missed messages, in order, and
// records them as dealt with.
func (p *PTT) deliverMissed(group int64, gen uint64, t0 time.Time, top int64, items []missedItem) {
	if gen != p.cu.gen {
		return
	}
	if cur := p.cu.marks[group]; cur != nil {
		cur.Mark, cur.Heard = max(cur.Mark, top), max(cur.Heard, t0.Unix()-1)
		p.saveMarks()
	}
	if len(items) == 0 {
		return
	}
	name := ""
	if g := p.model.Group(group); g != nil {
		name, _ = p.spoken(g.Name)
	}
	p.log.Info("missed messages", "group", group, "count", len(items))
	p.speak(p.say.missed(len(items), name))
	for _, it := range items {
		from, _ := p.spoken(it.m.FromName)
		age := p.say.ago(time.Since(it.m.Created))
		switch {
		case it.m.Type == platform.MessageText:
			p.log.Info("missed message", "group", group, "from", logged(it.m.FromName), "text", logged(it.m.Text),
				"created", it.m.Created.Format(time.RFC3339))
			body, cut := p.spoken(it.m.Text)
			p.speak(p.withCut(p.say.missedText(from, age, body), cut))
			p.setStatus(func(s *Status) { s.Missed.Texts++ })
		case !p.o.Missed.Voice:
			p.log.Info("missed voice message", "group", group, "from", logged(it.m.FromName), "created", it.m.Created.Format(time.RFC3339))
			p.speak(p.say.missedVoice(from, age))
			p.setStatus(func(s *Status) { s.Missed.Announced++ })
		case it.clip != nil:
			p.log.Info("missed voice message", "group", group, "from", logged(it.m.FromName), "created", it.m.Created.Format(time.RFC3339),
				"seconds", float64(len(it.clip))/audio.SampleRate)
			p.speak(p.say.missedVoice(from, age))
			if err := p.snd.prompter.Play(it.clip); err != nil {
				p.log.Warn("missed voice message dropped", "msg_id", it.m.ID, "err", err)
				p.setStatus(func(s *Status) { s.PromptsDropped++ })
				continue
			}
			p.setStatus(func(s *Status) { s.Missed.Voice++ })
		default:
			p.speak(p.say.missedVoiceLost(from, age))
			p.setStatus(func(s *Status) { s.Missed.Unavailable++ })
		}
	}
}
