package config

import "time"

// Emergency is the SOS key's behaviour (board.keys.sos is where the key
// is): a long press raises an alert with the position, takes the floor of
// the active group with emergency priority and raises the track rate; a
// second long press cancels. docs/protocol.md, "Emergency".
type Emergency struct {
	// LongPress is how long the SOS key must be held: a knock in a pocket
	// must not raise an alarm.
	LongPress Duration `yaml:"long_press"`
	// TrackPeriod is the track period while the emergency lasts (the
	// member's own if shorter), also with location sharing off.
	TrackPeriod Duration `yaml:"track_period"`
	// TrackFor is how long the high rate lasts unless cancelled first.
	TrackFor Duration `yaml:"track_for"`
	// HotMic is how long the microphone stays open after the alert tone,
	// without PTT held, so the group hears what happens; 0s sends the
	// tone only.
	HotMic Duration `yaml:"hot_mic"`
}

func emergencyDefaults(c *Config) {
	c.Emergency = Emergency{
		LongPress:   Duration(2 * time.Second),
		TrackPeriod: Duration(5 * time.Second),
		TrackFor:    Duration(30 * time.Minute),
		HotMic:      Duration(10 * time.Second),
	}
}

func (c *Config) validateEmergency(v *validation) {
	e := &c.Emergency
	v.between("emergency.long_press", e.LongPress, 500*time.Millisecond, 10*time.Second)
	v.between("emergency.track_period", e.TrackPeriod, time.Second, 10*time.Minute)
	v.between("emergency.track_for", e.TrackFor, time.Minute, 24*time.Hour)
	v.between("emergency.hot_mic", e.HotMic, 0, 2*time.Minute)
}
