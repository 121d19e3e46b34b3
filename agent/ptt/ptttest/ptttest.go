// Package ptttest has fakes of what push-to-talk is given beside the
// hardware (board/boardtest and audio/audiotest have those): the broker
// link (ptt.Link), the platform's model (ptt.Models), the voice prompts
// (ptt.Prompter). They keep what happens for the test to look at, and
// work inside a testing/synctest bubble when made there. (It does not
// import ptt, so that ptt's own tests can use it; they check that the
// fakes fit.)
package ptttest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/mqtt"
)

// Message is one message published on a Link.
type Message struct {
	Topic   string
	QoS     byte
	Payload []byte // a copy
}

// Link is a fake broker link: it keeps what is published (acknowledging
// it at once), keeps the subscriptions, and hands messages the test
// Delivers to the matching handler, as the broker's delivery goroutines
// would.
type Link struct {
	mu        sync.Mutex
	up        bool
	changed   chan struct{}
	published []Message
	subs      map[string]mqtt.Handler
	acked     chan struct{}
}

// NewLink returns a link that is up.
func NewLink() *Link {
	acked := make(chan struct{})
	close(acked)
	return &Link{up: true, changed: make(chan struct{}), subs: map[string]mqtt.Handler{}, acked: acked}
}

func (l *Link) Publish(topic string, qos byte, _ bool, payload []byte) paho.Token {
	l.mu.Lock()
	l.published = append(l.published, Message{Topic: topic, QoS: qos, Payload: append([]byte(nil), payload...)})
	l.mu.Unlock()
	return token{l.acked}
}

func (l *Link) Subscribe(filter string, _ byte, h mqtt.Handler) {
	l.mu.Lock()
	l.subs[filter] = h
	l.mu.Unlock()
}

func (l *Link) Unsubscribe(filter string) {
	l.mu.Lock()
	delete(l.subs, filter)
	l.mu.Unlock()
}

func (l *Link) State() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up, l.changed
}

// SetUp brings the link up or down.
func (l *Link) SetUp(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up == up {
		return
	}
	l.up = up
	close(l.changed)
	l.changed = make(chan struct{})
}

// Deliver hands payload to the handler whose filter matches topic, and
// reports whether there was one.
func (l *Link) Deliver(topic string, payload []byte) bool {
	l.mu.Lock()
	var h mqtt.Handler
	for f, fh := range l.subs {
		if Match(f, topic) {
			h = fh
		}
	}
	l.mu.Unlock()
	if h == nil {
		return false
	}
	h(topic, payload)
	return true
}

// Subscribed lists the filters subscribed now.
func (l *Link) Subscribed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var fs []string
	for f := range l.subs {
		fs = append(fs, f)
	}
	return fs
}

// Published returns the messages published on topic so far ("" all).
func (l *Link) Published(topic string) []Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Message
	for _, m := range l.published {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Match reports whether an MQTT topic filter (with + and #) matches topic.
func Match(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) || (f != "+" && f != ts[i]) {
			return false
		}
	}
	return len(fs) == len(ts)
}

// token is a publish the broker acknowledged at once.
type token struct{ done chan struct{} }

func (t token) Wait() bool                     { return true }
func (t token) WaitTimeout(time.Duration) bool { return true }
func (t token) Done() <-chan struct{}          { return t.done }
func (t token) Error() error                   { return nil }

// Models is a fake platform sync: the test Sets the model; the active
// group is the one chosen with SetActive while the member is in it, else
// the model's default group, as the real sync does.
type Models struct {
	mu      sync.Mutex
	model   *platform.Model
	active  int64
	changed chan struct{}
}

func NewModels(m *platform.Model) *Models { return &Models{model: m, changed: make(chan struct{})} }

// Set replaces the model (never change one handed out: copy it).
func (s *Models) Set(m *platform.Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.model = m
	close(s.changed)
	s.changed = make(chan struct{})
}

// SetUnannounced replaces the model as Set does but holds back its
// notification until announce is called: the real sync's notification
// reaches the loop after the change, and a key can come in between.
func (s *Models) SetUnannounced(m *platform.Model) (announce func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.model = m
	changed := s.changed
	s.changed = make(chan struct{})
	return func() { close(changed) }
}

func (s *Models) Watch() (*platform.Model, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.model, s.changed
}

func (s *Models) Active() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.model.Group(s.active) != nil {
		return s.active
	}
	return s.model.DefaultGroup()
}

func (s *Models) SetActive(gid int64) {
	s.mu.Lock()
	s.active = gid
	s.mu.Unlock()
}

// Prompter is a fake voice: it keeps the texts it was asked to say and
// the clips it was asked to play (as "<clip N samples>" among the texts,
// in order), and plays nothing.
type Prompter struct {
	mu    sync.Mutex
	said  []string
	clips [][]int16
}

func (p *Prompter) Say(text string) error {
	p.mu.Lock()
	p.said = append(p.said, text)
	p.mu.Unlock()
	return nil
}

func (p *Prompter) Play(pcm []int16) error {
	p.mu.Lock()
	p.said = append(p.said, fmt.Sprintf("<clip %d samples>", len(pcm)))
	p.clips = append(p.clips, pcm)
	p.mu.Unlock()
	return nil
}

// Pending is 0: the fake says everything at once.
func (p *Prompter) Pending() int { return 0 }

// Clips returns the clips played so far, in order.
func (p *Prompter) Clips() [][]int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]int16(nil), p.clips...)
}

func (p *Prompter) Run(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// Said returns the texts said so far, in order.
func (p *Prompter) Said() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.said...)
}
