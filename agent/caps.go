package agent

import (
	"log/slog"
	"sync/atomic"

	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// capsFollowers are the parts that follow the platform's retained
// capabilities message (wire.PlatformCaps): the track encoding
// (tracks.encoding auto) and the voice copy (audio.mqtt_voice_copy auto).
// One subscription hands the message to each, in order.
type capsFollowers struct{ hs []mqtt.Handler }

func (c *capsFollowers) add(h mqtt.Handler) { c.hs = append(c.hs, h) }

// subscribe takes the message for the followers added so far, if any.
func (c *capsFollowers) subscribe(mq *mqtt.Client, prefix string) {
	if len(c.hs) == 0 {
		return
	}
	hs := c.hs
	mq.SubscribeRetained(wire.PlatformCapsTopic(prefix), 1, func(topic string, payload []byte) {
		for _, h := range hs {
			h(topic, payload)
		}
	})
}

// voiceCopyOffer is whether the platform says its broker takes the
// devices' voice logins (PlatformCaps.VoiceCopy); no message, a cleared
// or a malformed one: not offered.
type voiceCopyOffer struct {
	on  atomic.Bool
	log *slog.Logger
}

func (o *voiceCopyOffer) onCaps(_ string, payload []byte) {
	on := false
	if len(payload) > 0 {
		c, err := wire.DecodePlatformCaps(payload)
		on = err == nil && c.VoiceCopy
	}
	if o.on.Swap(on) != on {
		o.log.Info("voice copy offered by the platform", "offered", on)
	}
}

func (o *voiceCopyOffer) offered() bool { return o.on.Load() }
