package recording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/wire"
)

// Uploader sends the queue's recordings to the platform, oldest first:
// the file with Upload (the corp file-upload), then the report with
// Report (MQTT, QoS 1, acknowledged). Only when both succeeded is the
// recording deleted; the URL is remembered in between, so a restart after
// the upload does not upload again. Failures are retried with capped
// backoff for as long as it takes: a platform outage only delays them.
// A recording that failed goes behind the others until they have been
// tried as often, so that one the platform keeps refusing cannot hold up
// the rest; one that cannot be read at all is set aside (Queue.SetAside).
type Uploader struct {
	Queue *Queue
	// Upload stores a file on the platform and returns its URL.
	Upload func(ctx context.Context, filename string, data []byte) (string, error)
	// Report tells the platform about an uploaded recording and returns
	// when it is acknowledged.
	Report func(ctx context.Context, r wire.RecordReport) error
	// BackoffMin and BackoffMax bound the wait after a failure (default
	// 1 s and 5 min).
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
}

// Run works through the queue until ctx ends.
func (u *Uploader) Run(ctx context.Context) error {
	log := u.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bmin, bmax := u.BackoffMin, u.BackoffMax
	if bmin <= 0 {
		bmin = time.Second
	}
	if bmax <= 0 {
		bmax = 5 * time.Minute
	}
	attempt := 0
	fails := map[string]int{} // failed attempts per recording, this run
	for {
		pending := u.Queue.Pending()
		if len(pending) == 0 {
			clear(fails)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-u.Queue.Ready():
			}
			continue
		}
		next := pending[0]
		for _, m := range pending[1:] {
			if fails[m.ID] < fails[next.ID] {
				next = m
			}
		}
		err := u.send(ctx, next)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			if attempt > 0 {
				log.Info("recording upload works again", "after_attempts", attempt)
			}
			attempt = 0
			delete(fails, next.ID)
			continue
		}
		fails[next.ID]++
		u.Queue.Failed(err)
		wait := dial.Backoff(attempt, bmin, bmax)
		attempt++
		if attempt == 1 {
			log.Warn("recording not uploaded yet; retrying", "id", next.ID, "waiting", len(pending), "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			log.Debug("recording upload retry failed", "id", next.ID, "attempt", attempt, "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (u *Uploader) send(ctx context.Context, m Meta) error {
	if m.URL == "" {
		data, err := u.Queue.Data(m.ID)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// The file is gone (removed by hand?): nothing left to send.
			u.Queue.SetAside(m.ID, err)
			return nil
		case errors.Is(err, ErrUnsendable):
			u.Queue.SetAside(m.ID, err)
			return nil
		case err != nil:
			return fmt.Errorf("recording %s: %w", m.ID, err)
		}
		name := fmt.Sprintf("%s_%d_%08x.opus", m.Account, m.BeginMs, m.Burst)
		url, err := u.Upload(ctx, name, data)
		if err != nil {
			return err
		}
		if err := u.Queue.SetURL(m.ID, url); err != nil {
			return err
		}
		m.URL = url
	}
	r := wire.RecordReport{Group: m.Group, GroupName: m.GroupName, Burst: m.Burst, BeginMs: m.BeginMs,
		DurationMs: m.DurationMs, URL: m.URL}
	if err := u.Report(ctx, r); err != nil {
		return fmt.Errorf("report recording %s: %w", m.ID, err)
	}
	u.Queue.Done(m.ID)
	if u.Logger != nil {
		u.Logger.Info("recording uploaded", "group", m.Group, "burst", m.Burst, "duration_ms", m.DurationMs, "url", m.URL)
	}
	return nil
}
