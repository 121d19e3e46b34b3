package ptt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pttagent/pttagent/uplink/recording"
	"github.com/pttagent/pttagent/wire"
)

// Recordings: every burst sent is kept as an Ogg Opus file in
// state_dir/recordings until the platform has it — uploaded with
// parts.Uploader, then reported over the link.

// openRecordings opens the recording queue when there is an uploader. A
// queue that cannot be opened turns recordings off, not push-to-talk.
func (p *PTT) openRecordings() {
	if p.parts.Uploader == nil {
		return
	}
	q, err := recording.Open(filepath.Join(p.o.StateDir, "recordings"), p.o.RecordingsMaxBytes, p.log)
	if err != nil {
		p.log.Error("recordings disabled: cannot open their queue", "err", err)
		return
	}
	p.mu.Lock()
	p.recs = q
	p.mu.Unlock()
}

// uploader sends the queue's recordings; nil without recordings.
func (p *PTT) uploader() *recording.Uploader {
	if p.recs == nil {
		return nil
	}
	return &recording.Uploader{Queue: p.recs, Upload: p.parts.Uploader.Upload, Report: p.report,
		Logger: p.log.With("part", "recordings")}
}

// report publishes a recording report and waits for the broker's
// acknowledgement.
func (p *PTT) report(ctx context.Context, r wire.RecordReport) error {
	if up, _ := p.parts.Link.State(); !up {
		return errors.New("uplink down")
	}
	tok := p.parts.Link.Publish(p.topics.Record(), 1, false, r.Encode())
	wait := time.NewTimer(p.o.AckTimeout)
	defer wait.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return fmt.Errorf("no acknowledgement within %s", p.o.AckTimeout)
	}
}
