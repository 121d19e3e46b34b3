package ptttest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/pttagent/pttagent/platform"
)

// History is a fake of the platform's group history and files
// (platform.History): the test Adds messages and files; Fail makes every
// call fail until it is called with nil.
type History struct {
	mu       sync.Mutex
	messages map[int64][]platform.Message // oldest first
	files    map[string][]byte
	err      error
	calls    int
}

func NewHistory() *History {
	return &History{messages: map[int64][]platform.Message{}, files: map[string][]byte{}}
}

// Add appends a message to its group's history.
func (h *History) Add(m platform.Message) {
	h.mu.Lock()
	h.messages[m.Group] = append(h.messages[m.Group], m)
	h.mu.Unlock()
}

// AddFile serves data at url.
func (h *History) AddFile(url string, data []byte) {
	h.mu.Lock()
	h.files[url] = data
	h.mu.Unlock()
}

// Fail makes the calls fail with err (nil: answer again).
func (h *History) Fail(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

// Calls counts GroupHistory calls.
func (h *History) Calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func (h *History) GroupHistory(_ context.Context, group int64, count int) ([]platform.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.err != nil {
		return nil, h.err
	}
	all := h.messages[group]
	var out []platform.Message
	for i := len(all) - 1; i >= 0 && len(out) < count; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

func (h *History) FetchFile(_ context.Context, url string, limit int64) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, h.err
	}
	b, ok := h.files[url]
	if !ok {
		return nil, errors.New("404")
	}
	if int64(len(b)) > limit {
		return nil, errors.New("too large")
	}
	return slices.Clone(b), nil
}

// Roster is a fake of the platform's presence calls (platform.Roster):
// the test Sets who is online.
type Roster struct {
	mu      sync.Mutex
	online  map[int64]bool
	inGroup map[int64]int64 // member → the group it listens to
	err     error
	calls   int
}

func NewRoster() *Roster { return &Roster{online: map[int64]bool{}, inGroup: map[int64]int64{}} }

// Set says member is online (listening to group; 0 none) or not.
func (r *Roster) Set(member int64, online bool, group int64) {
	r.mu.Lock()
	r.online[member], r.inGroup[member] = online, group
	r.mu.Unlock()
}

// Fail makes the calls fail with err (nil: answer again).
func (r *Roster) Fail(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// Calls counts Online calls.
func (r *Roster) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *Roster) Online(_ context.Context, group int64, members []int64) (platform.Presence, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return platform.Presence{}, r.err
	}
	p := platform.Presence{Online: []int64{}, InGroup: []int64{}, InGroupKnown: true}
	for _, id := range members {
		if r.online[id] {
			p.Online = append(p.Online, id)
			if r.inGroup[id] == group {
				p.InGroup = append(p.InGroup, id)
			}
		}
	}
	return p, nil
}
