package ptt

import (
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/wire"
)

// Notices (wapi accept/event): the platform's broadcasts to orgs and
// users reach the handset as wire.EventNotice. Each is logged, kept among
// the last Options.Notices for `status`, and read aloud when the
// member's tts is on — cut to MaxSpokenText and said so — or announced by
// the notice tone after the voice playing. Runs on the loop.

// NoticeStatus is a notice in `status`.
type NoticeStatus struct {
	ID          int64     `json:"id"`
	Time        time.Time `json:"time"`
	From        string    `json:"from"`
	Title       string    `json:"title"`
	Content     string    `json:"content"`               // cut like the log's
	Attachments []string  `json:"attachments,omitempty"` // their names
}

// DefaultNotices is Options.Notices when unset.
const DefaultNotices = 5

func (p *PTT) onNotice(n wire.Notice) {
	p.log.Info("notice", "id", n.ID, "from", logged(n.From.Name), "title", logged(n.Title), "content", logged(n.Content),
		"bytes", len(n.Content), "attachments", len(n.Accessory))
	ns := NoticeStatus{ID: n.ID, Time: time.Unix(n.Time, 0), From: logged(n.From.Name), Title: logged(n.Title),
		Content: logged(n.Content)}
	for i, a := range n.Accessory {
		if i == 8 {
			break
		}
		ns.Attachments = append(ns.Attachments, logged(a.Name))
	}
	keep := p.o.Notices
	if keep <= 0 {
		keep = DefaultNotices
	}
	p.setStatus(func(s *Status) {
		s.NoticesReceived++
		s.Notices = append(s.Notices, ns)
		if len(s.Notices) > keep {
			s.Notices = append([]NoticeStatus(nil), s.Notices[len(s.Notices)-keep:]...)
		}
	})
	if !p.ttsOn || p.snd.prompter == nil {
		p.noticeTone()
		return
	}
	from, _ := p.spoken(n.From.Name)
	title, cutT := p.spoken(n.Title)
	body, cutB := p.spoken(n.Content)
	p.speak(p.withCut(p.say.notice(from, title, body), cutT || cutB))
}

// noticeTone plays the notice tone once the received voice has played.
func (p *PTT) noticeTone() {
	if p.noticePCM == nil {
		pcm, err := audio.RenderTone(audio.ToneNotice, p.o.Audio.ToneVolume)
		if err != nil {
			p.log.Warn("notice tone", "err", err)
			return
		}
		p.noticePCM = pcm
	}
	p.snd.out.PlayAfterVoice(p.noticePCM)
}
