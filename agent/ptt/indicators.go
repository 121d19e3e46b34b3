package ptt

import (
	"fmt"
	"math"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/board"
)

// What the handset shows and what it reads beside the voice: the LEDs,
// the speaker's volume, the battery. Runs on the loop, except the LED
// helpers, which the Output's callback uses too.

func (p *PTT) setLED(led board.LED, on bool) {
	if led == nil {
		return
	}
	if err := led.Set(on); err != nil {
		p.log.Debug("LED", "err", err)
	}
}

func (p *PTT) blinkLED(led board.LED, on, off time.Duration) {
	if led == nil {
		return
	}
	if err := led.Blink(on, off); err != nil {
		p.log.Debug("LED", "err", err)
	}
}

// uplink follows the broker connection: the online LED, and the floor,
// which cannot be held without a link. (The spoken "network lost" waits
// for health's delay: onHealth.)
func (p *PTT) uplink(up bool) {
	if up {
		p.setLED(p.parts.LEDs.Online, true)
		return
	}
	p.blinkLED(p.parts.LEDs.Online, 500*time.Millisecond, 500*time.Millisecond)
	if p.fs.Phase != floor.Idle {
		p.log.Warn("uplink lost; leaving the floor")
		p.step(floor.Input{Kind: floor.Cancel})
		p.tone(floor.ToneDeny)
	}
}

// checkBattery reads the battery for status and reports a low one to
// health: low at board.low_battery and discharging, fine again on the
// charger or more than 2 % above, so a reading that wavers does not
// repeat the prompt.
func (p *PTT) checkBattery() {
	st, err := p.parts.Battery.Read()
	if err != nil {
		p.log.Debug("battery", "err", err)
		return
	}
	p.battery = st
	p.setStatus(func(s *Status) {
		s.Battery = &BatteryStatus{Percent: st.Percent, Charging: st.Charging, Status: st.Status}
	})
	low := p.o.LowBattery
	switch {
	case st.Percent < 0:
	case st.Percent <= low && !st.Charging:
		p.parts.Health.SetUnhealthy(health.BatteryLow, fmt.Sprintf("%d %%, %s", st.Percent, st.Status))
	case st.Charging || st.Percent > low+2:
		p.parts.Health.SetHealthy(health.BatteryLow)
	}
}

// changeVolume moves the speaker's level one step and ticks at the new
// level, so the user hears where it is; at either end the level stays.
func (p *PTT) changeVolume(step int) {
	level := max(1, min(10, p.prefs.Volume+step))
	if level != p.prefs.Volume {
		p.prefs.Volume = level
		p.snd.out.SetGain(volumeGain(level))
		p.savePrefs()
		p.setStatus(func(s *Status) { s.Volume = level })
		p.log.Info("volume", "level", level)
	}
	p.snd.out.PlayTone(p.snd.volumeTone)
}

// volumeGain maps the handset's volume level, 1 to 10, to a playback gain:
// 10 is full scale, each step down 3 dB (level 1 is −27 dB, about 1/22).
func volumeGain(level int) float64 {
	return math.Pow(10, -3*float64(10-level)/20)
}
