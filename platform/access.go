package platform

import (
	"errors"
	"fmt"
)

// DeviceState is the wapi seed's device/bind state of the terminal a user
// holds: 0 idle (taken back from the user), 1 assigned, 2 sent to repair.
type DeviceState string

const (
	DeviceAssigned DeviceState = "assigned"
	DeviceUnbound  DeviceState = "unbound"
	DeviceRepair   DeviceState = "repair"
)

// Access is what the platform lets this handset do now, derived from the
// member's state and its terminal's.
type Access struct {
	Talk   bool // push-to-talk
	Listen bool // hear its groups
	Tracks bool // report its position (at the member's loc_share and track)
	// Withdrawn says why the platform has taken the handset out of service
	// ("" while it has not): the member deleted or expired, the user not
	// activated, disabled, stunned or killed, the terminal taken back or
	// sent to repair. A paused member is not withdrawn: it listens, and
	// its pause is an operator's everyday tool.
	Withdrawn string
}

// Access derives what this member may do. A stunned handset still
// reports its position — stunning rather than killing a lost or stolen
// radio is how an operator keeps finding it (as TETRA's stun does) — but
// neither talks nor listens; every other withdrawal stops everything.
func (s Self) Access() Access {
	switch s.Device {
	case DeviceUnbound:
		return Access{Withdrawn: "the terminal was taken back from its user (device unbound)"}
	case DeviceRepair:
		return Access{Withdrawn: "the terminal was sent to repair"}
	}
	switch s.State {
	case StateEnabled:
		return Access{Talk: true, Listen: true, Tracks: true}
	case StatePaused:
		return Access{Listen: true, Tracks: true}
	case StateInactive:
		return Access{Withdrawn: "the user is not activated"}
	case StateDisabled:
		return Access{Withdrawn: "the user was disabled"}
	case StateStunned:
		return Access{Tracks: true, Withdrawn: "the user was stunned"}
	case StateKilled:
		return Access{Withdrawn: "the user was killed"}
	case StateDeleted:
		return Access{Withdrawn: "the member was deleted"}
	case StateExpired:
		return Access{Withdrawn: "the user expired"}
	}
	// A state this agent does not know: it does not talk, but it stops
	// nothing it cannot explain.
	return Access{Tracks: true}
}

// GoneError is a Fetch's error when the platform answers that this
// member no longer exists (corp: the address list no longer lists it;
// wapi: user/info 517, 545, or an orgUser/tree without the account). The
// sync then keeps its last model with Self.State set to State, so the
// handset stops and says why, and it keeps asking: a member created again
// comes back by itself.
type GoneError struct {
	State State // StateDeleted or StateExpired
	Op    string
	Err   error
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("platform %s: this member is %s: %v", e.Op, e.State, e.Err)
}

func (e *GoneError) Unwrap() error { return e.Err }

// IsGone returns the GoneError in err's chain, or nil.
func IsGone(err error) *GoneError {
	var g *GoneError
	if errors.As(err, &g) {
		return g
	}
	return nil
}
