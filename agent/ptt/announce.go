package ptt

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// Voice prompts: text messages and notices read out (cut to
// MaxSpokenText, and said so), the group's name on a switch, and what
// health says — network lost and restored, GPS fix acquired and lost,
// battery low. Runs on the loop, except OnEvent.

// phrases are the spoken prompts in the language of tts.voice: Mandarin
// for a cmn/zh voice (espeak-ng reads Chinese characters only with one),
// English otherwise. Group names and text messages are spoken as they
// are.
type phrases struct {
	uplinkLost, uplinkRestored, gpsAcquired, gpsLost string
	batteryLow                                       func(percent int) string
	message                                          func(from, text string) string
	// truncated follows a text cut to Options.MaxSpokenText.
	truncated string
	notice    func(from, title, content string) string
	// missed: the catch-up's introduction, and each message with its age.
	missed          func(n int, group string) string
	missedText      func(from, age, text string) string
	missedVoice     func(from, age string) string
	missedVoiceLost func(from, age string) string
	ago             func(d time.Duration) string
	// outOfService says why the platform withdrew the handset;
	// backInService that it is back.
	outOfService  func(self platform.Self) string
	backInService string
	// groupOnline is the group's name on a switch, with how many others
	// are online in it.
	groupOnline func(name string, others int) string
}

func phrasesFor(voice string) phrases {
	v := strings.ToLower(voice)
	if v == "cmn" || v == "zh" || strings.HasPrefix(v, "cmn-") || strings.HasPrefix(v, "zh-") || strings.HasSuffix(v, "/cmn") {
		return phrases{
			uplinkLost: "网络已断开", uplinkRestored: "网络已恢复", gpsAcquired: "已定位", gpsLost: "定位丢失",
			batteryLow: func(p int) string { return fmt.Sprintf("电量低，剩余百分之%d", p) },
			message:    func(from, text string) string { return from + "的消息：" + text },
			truncated:  "消息过长，已截断",
			notice:     func(from, title, content string) string { return from + "的通知：" + title + "。" + content },
			missed:     func(n int, group string) string { return fmt.Sprintf("%s有%d条未收听的消息", group, n) },
			missedText: func(from, age, text string) string { return age + "，" + from + "：" + text },
			missedVoice: func(from, age string) string {
				return age + "，" + from + "的语音"
			},
			missedVoiceLost: func(from, age string) string { return age + "，" + from + "的语音，无法播放" },
			ago: func(d time.Duration) string {
				switch {
				case d < time.Minute:
					return "刚才"
				case d < time.Hour:
					return fmt.Sprintf("%d分钟前", int(d/time.Minute))
				case d < 48*time.Hour:
					return fmt.Sprintf("%d小时前", int(d/time.Hour))
				}
				return fmt.Sprintf("%d天前", int(d/(24*time.Hour)))
			},
			outOfService: func(s platform.Self) string {
				switch {
				case s.Device == platform.DeviceRepair:
					return "本机已停用：设备返修"
				case s.Device == platform.DeviceUnbound:
					return "本机已停用：设备已回收"
				}
				why := map[platform.State]string{platform.StateDeleted: "用户已删除", platform.StateExpired: "用户已失效",
					platform.StateInactive: "用户未激活", platform.StateDisabled: "用户已停用", platform.StateStunned: "用户已遥晕",
					platform.StateKilled: "用户已遥毙"}[s.State]
				return "本机已停用：" + why
			},
			backInService: "本机已恢复使用",
			groupOnline: func(name string, others int) string {
				if others == 0 {
					return name + "，无其他人在线"
				}
				return fmt.Sprintf("%s，另有%d人在线", name, others)
			},
		}
	}
	return phrases{
		uplinkLost: "Network lost", uplinkRestored: "Network restored", gpsAcquired: "GPS fix acquired", gpsLost: "GPS fix lost",
		batteryLow: func(p int) string { return fmt.Sprintf("Battery low, %d percent", p) },
		message:    func(from, text string) string { return "Message from " + from + ". " + text },
		truncated:  "Message truncated",
		notice: func(from, title, content string) string {
			return "Notice from " + from + ". " + title + ". " + content
		},
		missed: func(n int, group string) string {
			if n == 1 {
				return "One missed message in " + group
			}
			return fmt.Sprintf("%d missed messages in %s", n, group)
		},
		missedText:      func(from, age, text string) string { return "From " + from + ", " + age + ". " + text },
		missedVoice:     func(from, age string) string { return "Voice message from " + from + ", " + age },
		missedVoiceLost: func(from, age string) string { return "Voice message from " + from + ", " + age + ", not available" },
		ago: func(d time.Duration) string {
			switch {
			case d < time.Minute:
				return "just now"
			case d < 2*time.Minute:
				return "a minute ago"
			case d < time.Hour:
				return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
			case d < 2*time.Hour:
				return "an hour ago"
			case d < 48*time.Hour:
				return fmt.Sprintf("%d hours ago", int(d/time.Hour))
			}
			return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
		},
		outOfService: func(s platform.Self) string {
			return "This handset is out of service: " + s.Access().Withdrawn
		},
		backInService: "This handset is back in service",
		groupOnline: func(name string, others int) string {
			switch others {
			case 0:
				return name + ", nobody else online"
			case 1:
				return name + ", one other online"
			}
			return fmt.Sprintf("%s, %d others online", name, others)
		},
	}
}

// DefaultMaxSpokenText is Options.MaxSpokenText when unset: characters
// of a message or notice read aloud (about 15 s of English).
const DefaultMaxSpokenText = 240

// maxLoggedText bounds a message or notice in the log (bytes): the
// journal is no place for a 120 KB message either.
const maxLoggedText = 256

// spoken cuts text to Options.MaxSpokenText characters, at a word where
// one is near; cut says it was.
func (p *PTT) spoken(text string) (out string, cut bool) {
	n := p.o.MaxSpokenText
	if n <= 0 {
		n = DefaultMaxSpokenText
	}
	if utf8.RuneCountInString(text) <= n {
		return text, false
	}
	i := 0
	for k := range text {
		if n == 0 {
			i = k
			break
		}
		n--
	}
	out = text[:i]
	if sp := strings.LastIndexAny(out, " \t\n"); sp > len(out)*3/4 {
		out = out[:sp]
	}
	p.setStatus(func(s *Status) { s.TextsCut++ })
	return strings.TrimSpace(out), true
}

// withCut appends "message truncated" to a prompt whose text was cut.
func (p *PTT) withCut(prompt string, cut bool) string {
	if !cut {
		return prompt
	}
	return prompt + ". " + p.say.truncated
}

// logged is text as it goes to the log: at most maxLoggedText bytes.
func logged(text string) string {
	if len(text) <= maxLoggedText {
		return text
	}
	n := maxLoggedText
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n] + "…"
}

// speak queues a prompt when the member's tts is on.
func (p *PTT) speak(text string) {
	if !p.ttsOn || text == "" || p.snd.prompter == nil {
		return
	}
	if err := p.snd.prompter.Say(text); err != nil {
		p.setStatus(func(s *Status) { s.PromptsDropped++ })
		p.log.Warn("prompt dropped", "text", text, "err", err)
		return
	}
	p.setStatus(func(s *Status) { s.Prompts++ })
}

// said is what the prompts last told the user, so each change is said
// once, and only the loss of something the user heard about.
type said struct {
	fix        bool // "GPS fix acquired" (not yet followed by "lost")
	hadUplink  bool // the link was up once: its loss is news
	uplinkLost bool // "Network lost" (not yet followed by "restored")
	batteryLow bool
}

// onHealth speaks what changed in health that the user should hear. The
// delays are the warnings' own (health.UplinkDown's TimeToVisible, …):
// a broker restart or a bridge is not announced.
func (p *PTT) onHealth(s health.Snapshot) {
	switch nf := s.Of(health.GPSNoFix); {
	case nf.Reported && !nf.Unhealthy && !p.said.fix:
		p.said.fix = true
		p.speak(p.say.gpsAcquired)
	case nf.Visible && p.said.fix:
		p.said.fix = false
		p.speak(p.say.gpsLost)
	}
	switch ud := s.Of(health.UplinkDown); {
	case ud.Reported && !ud.Unhealthy:
		p.said.hadUplink = true
		if p.said.uplinkLost {
			p.said.uplinkLost = false
			p.speak(p.say.uplinkRestored)
		}
	case ud.Visible && p.said.hadUplink && !p.said.uplinkLost:
		p.said.uplinkLost = true
		p.speak(p.say.uplinkLost)
	}
	switch bl := s.Of(health.BatteryLow); {
	case bl.Visible && !p.said.batteryLow:
		p.said.batteryLow = true
		p.speak(p.say.batteryLow(p.battery.Percent))
	case !bl.Unhealthy:
		p.said.batteryLow = false
	}
}

// OnEvent is for the platform sync's OnEvent: text messages for a group
// and notices are push-to-talk's (true), everything else is not. It runs
// on the sync's goroutine and does not block.
func (p *PTT) OnEvent(ev wire.Event) bool {
	switch ev.MsgType {
	case wire.EventGroupMessage:
	case wire.EventNotice:
		n, err := wire.DecodeNotice(ev.Content)
		if err != nil {
			p.log.Warn("dropping a malformed notice", "msg_id", ev.MsgID, "err", err)
			return true
		}
		if !p.tryPost(func() { p.onNotice(n) }) {
			p.log.Warn("notices come faster than they can be read; dropping one", "msg_id", ev.MsgID)
		}
		return true
	default:
		return false
	}
	m, err := wire.DecodeGroupMessage(ev.Content)
	if err != nil {
		p.log.Warn("dropping a malformed group message", "msg_id", ev.MsgID, "err", err)
		return true
	}
	select {
	case p.texts <- m:
	default:
		p.log.Warn("text messages come faster than they can be read; dropping one", "msg_id", ev.MsgID)
	}
	return true
}

func (p *PTT) onText(m wire.GroupMessage) {
	text, ok := m.Text()
	active := m.Group.ID == p.active
	p.log.Info("group message", "group", m.Group.ID, "from", logged(m.User.Name), "text", logged(text), "bytes", len(text),
		"active", active)
	p.setStatus(func(s *Status) { s.TextMessages++ })
	if !ok || !active {
		return
	}
	// Heard, or shown: the catch-up must not bring it again.
	p.handledLive(m.Group.ID, m.Message.MsgID, m.Message.Created)
	from := m.User.Name
	if from == "" {
		from = m.User.UserNum
	}
	from, _ = p.spoken(from)
	body, cut := p.spoken(text)
	p.speak(p.withCut(p.say.message(from, body), cut))
}
