package uplink

import (
	"log/slog"
	"sync/atomic"

	"github.com/pttagent/pttagent/wire"
)

// AutoEncoding is tracks.encoding "auto": track batches go as version 1
// (JSON, what every platform decodes) until the platform's retained
// capabilities (wire.PlatformCapsTopic) say it reads version 2 (CBOR, a
// third of the bytes), and as version 1 again if they stop saying so.
// Subscribe OnCaps (retained) to the topic and give Encode to the
// TrackSender. A message that does not decode changes nothing: the last
// good word stands (version 1 if there was none).
type AutoEncoding struct {
	Logger *slog.Logger
	v2     atomic.Bool
}

// Encode writes pts in the version the platform last said it reads.
func (e *AutoEncoding) Encode(dst []byte, pts []wire.Point) []byte {
	if e.v2.Load() {
		return wire.AppendTrackBatchCBOR(dst, pts)
	}
	return wire.AppendTrackBatch(dst, pts)
}

// OnCaps takes the platform's capabilities message (an mqtt.Handler).
func (e *AutoEncoding) OnCaps(topic string, payload []byte) {
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(payload) == 0 {
		// The retained message was cleared: the platform says nothing.
		if e.v2.Swap(false) {
			log.Info("tracks: the platform's capabilities were withdrawn; sending version 1 (JSON)")
		}
		return
	}
	c, err := wire.DecodePlatformCaps(payload)
	if err != nil {
		log.Warn("tracks: ignoring the platform's capabilities message", "topic", topic, "err", err)
		return
	}
	v2 := c.Reads(2)
	if e.v2.Swap(v2) != v2 {
		if v2 {
			log.Info("tracks: the platform reads version 2; sending CBOR")
		} else {
			log.Info("tracks: the platform no longer reads version 2; sending JSON")
		}
	}
}
