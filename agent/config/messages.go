package config

import "time"

// Messages: what the handset does with the platform's messages beside
// reading live ones — catching up those it missed (docs/protocol.md,
// "Missed messages") and keeping notices for status. Defaults in
// messagesDefaults, checks in validateMessages.
type Messages struct {
	// Missed is how many of the active group's newest missed messages
	// (sent while the handset was offline or listening to another group)
	// are caught up when it comes back; 0 turns the catch-up off.
	Missed int `yaml:"missed"`
	// MissedMaxAge: older messages are not caught up.
	MissedMaxAge Duration `yaml:"missed_max_age"`
	// MissedVoice plays missed voice messages (fetched from the
	// platform); false only announces them.
	MissedVoice bool `yaml:"missed_voice"`
	// Notices is how many of the platform's notices `status` keeps.
	Notices int `yaml:"notices"`
}

func messagesDefaults(c *Config) {
	c.Messages = Messages{Missed: 3, MissedMaxAge: Duration(24 * time.Hour), MissedVoice: true, Notices: 5}
	c.TTS.MaxText = 240
}

func (c *Config) validateMessages(v *validation) {
	m := &c.Messages
	v.intBetween("messages.missed", m.Missed, 0, 20)
	v.between("messages.missed_max_age", m.MissedMaxAge, time.Minute, 30*24*time.Hour)
	v.intBetween("messages.notices", m.Notices, 1, 50)
	v.intBetween("tts.max_text", c.TTS.MaxText, 20, 4000)
}
