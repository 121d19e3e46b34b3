package pttsim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pttagent/pttagent/wire"
)

// natsIngest takes tracks on a NATS server's own protocol (Options.NATS)
// as a member of the queue group Options.TrackShare: NATS' equivalent of
// a shared subscription, which its MQTT side does not serve. The handsets
// still publish over MQTT; the server hands each message to one member of
// the group.
//
// Core NATS delivers at most once: what was on its way to a simulator
// whose connection dropped is lost for the platform (the handset had its
// PUBACK already), where an MQTT QoS 1 subscription with a persistent
// session would get it on reconnecting. docs/fleet.md.
func (s *Sim) natsIngest(ctx context.Context) error {
	nc, err := nats.Connect(s.o.NATS, nats.Name("pttsim-"+s.o.TrackShare), nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("pttsim: NATS ingest %s: %w", s.o.NATS, err)
	}
	defer nc.Close()
	subject := natsSubject(wire.AllTracks(s.o.Prefix))
	on := func(m *nats.Msg) { s.onTrack(mqttTopic(m.Subject), m.Data) }
	var sub *nats.Subscription
	if s.o.TrackShare == "" {
		sub, err = nc.Subscribe(subject, on)
	} else {
		sub, err = nc.QueueSubscribe(subject, s.o.TrackShare, on)
	}
	if err != nil {
		return fmt.Errorf("pttsim: NATS ingest: subscribe %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("pttsim: NATS ingest: %w", err)
	}
	s.log.Info("taking tracks from NATS", "url", s.o.NATS, "subject", subject, "queue", s.o.TrackShare)
	<-ctx.Done()
	sub.Unsubscribe()
	return nil
}

// natsSubject is an MQTT topic filter as the NATS server maps it: levels
// joined by '.', '+' as '*', '#' as '>' (no '.' in the filter's levels).
func natsSubject(filter string) string {
	return strings.NewReplacer("/", ".", "+", "*", "#", ">").Replace(filter)
}

// mqttTopic undoes the NATS server's mapping of an MQTT topic: levels
// joined by '.', and a '.' inside a level written "//".
func mqttTopic(subject string) string {
	var b strings.Builder
	b.Grow(len(subject))
	for i := 0; i < len(subject); i++ {
		switch c := subject[i]; {
		case c == '/' && i+1 < len(subject) && subject[i+1] == '/':
			b.WriteByte('.')
			i++
		case c == '.':
			b.WriteByte('/')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
