package pttsim

import (
	"fmt"
	"strings"

	"github.com/pttagent/pttagent/wire"
)

// trackFilter is the subscription the simulator takes tracks through:
// every device's, or with Options.TrackShare a share of them.
//
// With TrackShare several simulators split the ingest as a platform's
// ingest workers would: the broker hands each track message to one member
// of the group ("$share/{group}/…", MQTT 5's shared subscription, which
// mosquitto ≥ 1.6, EMQX, HiveMQ and VerneMQ also serve to MQTT 3.1.1
// clients). A device's points then land in several simulators, each of
// which sees gaps in its seqs: Stats.TrackMissing counts the other
// members' points too, and only the union of the members' tracks is the
// device's track — as a real platform's workers share one store.
//
// A NATS server does not serve $share: the subscription is taken as a
// plain topic and receives nothing, which the simulator would not notice.
// With Options.NATS the simulator takes the tracks on NATS' own protocol,
// in a queue group (natsIngest).
func (s *Sim) trackFilter() string {
	if s.o.NATS != "" {
		return "" // natsIngest takes them
	}
	if s.o.TrackShare == "" {
		return wire.AllTracks(s.o.Prefix)
	}
	return "$share/" + s.o.TrackShare + "/" + wire.AllTracks(s.o.Prefix)
}

// CheckShareName says whether name can be a shared subscription's group:
// one topic level, no wildcard.
func CheckShareName(name string) error {
	if name == "" || strings.ContainsAny(name, "/+#") {
		return fmt.Errorf("share group %q: want one topic level without / + #", name)
	}
	return nil
}
