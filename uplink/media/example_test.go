package media_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/adapt"
	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// How the agent wires the media path beside MQTT: voice goes over UDP
// while it gets through, over MQTT otherwise; the MQTT voice subscription
// is held only while UDP does not deliver; the relay's reports and the
// MQTT backlog retune the encoder.
func Example() {
	var (
		ctx    = context.Background()
		mq     *mqtt.Client   // the agent's broker connection
		enc    *audio.Encoder // the packetizer's encoder
		topics = wire.Topics{Prefix: "ptt", Account: "dev-0001"}
		group  = int64(80000528) // the active group
		put    = func(payload []byte) {}
	)
	policy := adapt.Config{MaxBitrate: 20000}
	var state adapt.State
	retune := func(in adapt.Input) {
		var s adapt.Setting
		state, s = policy.Step(state, in)
		enc.SetBitrate(s.Bitrate)
		enc.SetFEC(s.FEC)
		enc.SetExpectedLoss(s.ExpectedLoss)
	}
	c := media.New(media.Options{Topics: topics, Control: mq,
		// Voice over UDP goes where the MQTT handler's voice goes.
		OnVoice: func(g int64, speaker string, payload []byte) {
			if g == group && speaker != topics.Account {
				put(payload)
			}
		},
		OnReport: func(r media.Report) {
			retune(adapt.Input{Path: adapt.UDP, Loss: r.Loss(), JitterMs: r.JitterMs(),
				Queue: time.Duration(r.UpQueueMs * float64(time.Millisecond))})
		},
		Logger: slog.Default()})
	go c.Run(ctx)
	c.Listen(group) // and again whenever the user switches groups

	// The MQTT voice subscription follows the UDP path.
	onMQTT := func(topic string, payload []byte) { put(payload) }
	go func() {
		sub := wire.GroupVoice(topics.Prefix, group, "+")
		for {
			up, changed := c.State()
			if up {
				mq.Unsubscribe(sub)
			} else {
				mq.Subscribe(sub, 0, onMQTT)
			}
			<-changed
		}
	}()

	// Floor taken by another member of the group: voice should come.
	c.ExpectVoice(true)
	// ... and on idle: c.ExpectVoice(false).

	// The talk goroutine's send function.
	send := func(payload []byte) {
		if !c.Send(group, payload) {
			mq.Publish(topics.Voice(group), 0, false, payload) // copy first, as the agent's voiceBuffers do
		}
	}
	_ = send
	// Over MQTT, once a second while talking: the voice published and not
	// yet written out.
	retune(adapt.Input{Path: adapt.MQTT, Queue: 0})
}
