package pttsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/wire"
)

// Terminals (wapi device/bind): a platform's inventory of handsets, each
// assigned to a user account, taken back, or sent to repair. The seed has
// no call that reads a binding back; pttsim adds it to user/info as
// "deviceId" and "deviceState" (device/bind's numbering, 0 idle — taken
// back —, 1 assigned, 2 repair) for a user that holds or held a terminal,
// and tells the user's device with a wapi-user-update event, after which
// it fetches user/info again (docs/protocol.md).

// Terminal states, device/bind's numbering.
const (
	DeviceIdle     = 0
	DeviceAssigned = 1
	DeviceRepair   = 2
)

// Device is a terminal.
type Device struct {
	ID      int64  `json:"id"`
	Account string `json:"account"` // the user it is bound to; "" idle
	State   int    `json:"state"`
}

// heldDevice is the terminal a user account holds or last held.
type heldDevice struct {
	id    int64
	state int
}

// BindDevice binds terminal id to account (state DeviceAssigned), takes
// it back (DeviceIdle; account may be empty) or sends it to repair
// (DeviceRepair), and tells the devices of the users concerned.
func (s *Sim) BindDevice(id int64, account string, state int) error {
	if id <= 0 || state < DeviceIdle || state > DeviceRepair {
		return fmt.Errorf("%w: terminal %d state %d", ErrBadRequest, id, state)
	}
	var to []string
	var ids []int64
	s.mu.Lock()
	if account != "" && s.w.byNum(account) == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNoMember, account)
	}
	if state == DeviceAssigned && account == "" {
		s.mu.Unlock()
		return fmt.Errorf("%w: assigning terminal %d needs an account", ErrBadRequest, id)
	}
	if s.x.devices == nil {
		s.x.devices, s.x.deviceOf = map[int64]*Device{}, map[string]heldDevice{}
	}
	d := s.x.devices[id]
	if d == nil {
		d = &Device{ID: id}
		s.x.devices[id] = d
	}
	hold := func(acct string, st int) {
		if acct == "" {
			return
		}
		s.x.deviceOf[acct] = heldDevice{id: id, state: st}
		if m := s.w.byNum(acct); m != nil {
			to, ids = append(to, acct), append(ids, m.ID)
		}
	}
	switch state {
	case DeviceAssigned:
		if d.Account != "" && d.Account != account {
			hold(d.Account, DeviceIdle)
		}
		d.Account = account
	case DeviceIdle:
		if account == "" {
			account = d.Account
		}
		d.Account = ""
	case DeviceRepair:
		if account == "" {
			account = d.Account
		}
	}
	d.State = state
	hold(account, state)
	s.mu.Unlock()
	s.publishEvent(wire.EventWapiUserUpdate, map[string][]int64{"id": ids}, to)
	return nil
}

// Devices lists the terminals.
func (s *Sim) Devices() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Device
	for _, d := range s.x.devices {
		out = append(out, *d)
	}
	return out
}

// deviceInfo (s.mu held) adds the terminal a user holds or held to its
// user/info answer.
func (s *Sim) deviceInfo(account string, info map[string]any) {
	if h, ok := s.x.deviceOf[account]; ok {
		// As device/bind sends them: the state as a string.
		info["deviceId"], info["deviceState"] = h.id, strconv.Itoa(h.state)
	}
}

// wapiDeviceBind serves device/bind {id, account, state}; the seed sends
// every value as a string.
func (s *Sim) wapiDeviceBind(w http.ResponseWriter, body []byte) {
	var q struct {
		ID      httpapi.Int  `json:"id"`
		Account httpapi.Str  `json:"account"`
		State   *httpapi.Int `json:"state"`
	}
	if err := json.Unmarshal(body, &q); err != nil || q.ID <= 0 || q.State == nil {
		wapiReply(w, wapiMissing, "必填参数为空: id, state", nil)
		return
	}
	if err := s.BindDevice(int64(q.ID), string(q.Account), int(*q.State)); err != nil {
		wapiErr(w, err)
		return
	}
	wapiReply(w, wapiOK, "", nil)
}
