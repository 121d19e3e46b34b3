package ptt

import (
	"fmt"
	"strings"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/wire"
)

// Voice prompts: text messages read out, the group's name on a switch,
// and what health says — network lost and restored, GPS fix acquired and
// lost, battery low. Runs on the loop, except OnEvent.

// phrases are the spoken prompts in the language of tts.voice: Mandarin
// for a cmn/zh voice (espeak-ng reads Chinese characters only with one),
// English otherwise. Group names and text messages are spoken as they
// are.
type phrases struct {
	uplinkLost, uplinkRestored, gpsAcquired, gpsLost string
	batteryLow                                       func(percent int) string
	message                                          func(from, text string) string
}

func phrasesFor(voice string) phrases {
	v := strings.ToLower(voice)
	if v == "cmn" || v == "zh" || strings.HasPrefix(v, "cmn-") || strings.HasPrefix(v, "zh-") || strings.HasSuffix(v, "/cmn") {
		return phrases{
			uplinkLost: "网络已断开", uplinkRestored: "网络已恢复", gpsAcquired: "已定位", gpsLost: "定位丢失",
			batteryLow: func(p int) string { return fmt.Sprintf("电量低，剩余百分之%d", p) },
			message:    func(from, text string) string { return from + "的消息：" + text },
		}
	}
	return phrases{
		uplinkLost: "Network lost", uplinkRestored: "Network restored", gpsAcquired: "GPS fix acquired", gpsLost: "GPS fix lost",
		batteryLow: func(p int) string { return fmt.Sprintf("Battery low, %d percent", p) },
		message:    func(from, text string) string { return "Message from " + from + ". " + text },
	}
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
// are push-to-talk's (true), everything else is not. It runs on the
// sync's goroutine and does not block.
func (p *PTT) OnEvent(ev wire.Event) bool {
	if ev.MsgType != wire.EventGroupMessage {
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
	p.log.Info("group message", "group", m.Group.ID, "from", m.User.Name, "text", text, "active", m.Group.ID == p.active)
	p.setStatus(func(s *Status) { s.TextMessages++ })
	if !ok || m.Group.ID != p.active {
		return
	}
	from := m.User.Name
	if from == "" {
		from = m.User.UserNum
	}
	p.speak(p.say.message(from, text))
}
