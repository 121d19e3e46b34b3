package pttsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
)

// EventReport is seed 003 §3.1 事件上报 (event report), the body the
// platform POSTs to a third party's URL with its token in the token
// header. Field names and types are the seed's: id a number, code, type
// and level strings, to.id a string, from.id a number.
type EventReport struct {
	ID    int64  `json:"id"`
	Code  string `json:"code"`
	Type  string `json:"type"`
	Level string `json:"level"`
	To    struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"to"`
	From struct {
		ID      int64  `json:"id"`
		Account string `json:"account"`
		Name    string `json:"name"`
	} `json:"from"`
	Topic   string `json:"topic,omitempty"`
	Content string `json:"content"`
	// Address is "not GPS coordinates" in the seed (a place a person
	// reads); pttsim has no map to name the place, so it writes the
	// coordinates in words, and content carries them too.
	Address string   `json:"address"`
	URLs    []string `json:"urls,omitempty"`
}

// The seed leaves type and level open; these are pttsim's.
const (
	EventTypeEmergency       = "emergency"        // a device's SOS alert
	EventTypeEmergencyCancel = "emergency-cancel" // its cancel (same code)
	EventLevelEmergency      = "1"                // the highest, as wapi numbers priorities
)

// webhook delivers the reports in order, each until the receiver answers
// 2xx: with backoff (1 s doubling to 1 min, jittered), for as long as
// pttsim runs. (The queue is not kept across pttsim restarts; the alerts
// themselves are re-sent by the devices until acknowledged, not the
// reports.)
type webhook struct {
	// Guarded by the desk's mutex.
	url, token string
	queue      []EventReport
	wake       chan struct{}
}

// SetEmergencyWebhook sends the reports from now on to url ("" none),
// with token in the token header (Options.EmergencyWebhook at start).
func (s *Sim) SetEmergencyWebhook(url, token string) {
	d := s.em
	d.mu.Lock()
	d.hook.url, d.hook.token = url, token
	if url == "" {
		d.hook.queue = nil
	}
	d.mu.Unlock()
	d.hook.poke()
}

func (h *webhook) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// runWebhook posts the reports to the webhook until ctx ends.
func (s *Sim) runWebhook(ctx context.Context) {
	d := s.em
	client := &http.Client{Timeout: 10 * time.Second}
	attempt := 0
	for {
		d.mu.Lock()
		var next *EventReport
		if len(d.hook.queue) > 0 {
			r := d.hook.queue[0]
			next = &r
		}
		url, token := d.hook.url, d.hook.token
		d.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-d.hook.wake:
			}
			continue
		}
		err := postReport(ctx, client, url, token, *next)
		d.mu.Lock()
		if err == nil && len(d.hook.queue) > 0 {
			d.hook.queue = d.hook.queue[1:]
			d.stats.WebhookSent++
		} else {
			d.stats.WebhookFailures++
			d.stats.WebhookLastError = err.Error()
		}
		d.mu.Unlock()
		if err == nil {
			s.log.Info("event report delivered", "id", next.ID, "code", next.Code, "type", next.Type)
			attempt = 0
			continue
		}
		wait := dial.Backoff(attempt, time.Second, time.Minute)
		attempt++
		s.log.Warn("event report not delivered; retrying", "id", next.ID, "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func postReport(ctx context.Context, client *http.Client, url, token string, r EventReport) error {
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("token", token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
