package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
	"github.com/pttagent/pttagent/systemd"
)

// newServiceLogger logs for journald when stderr is the journal (priority
// prefixes, no timestamps), as plain key=value lines otherwise. Repeated
// identical lines are held back and counted; the secrets' values are
// masked should an error text ever quote one. flush writes the held-back
// counts; call it last.
func newServiceLogger(w io.Writer, cfg *config.Config) (log *slog.Logger, flush func()) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by config.Load
	h := systemd.NewLogHandler(w, systemd.LogOptions{
		Level:   level,
		Journal: w == io.Writer(os.Stderr) && systemd.StderrIsJournal(),
		Redact:  secretValues(cfg.Secrets),
	})
	return slog.New(h), h.Flush
}

// secretValues lists every string in the secrets file, whatever fields
// other parts add to config.Secrets, and each one's MD5 in hex: the corp
// platform's login sends the password's MD5, so the hash is a credential
// too.
func secretValues(s config.Secrets) []string {
	var out []string
	v := reflect.ValueOf(s)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String && f.String() != "" {
			sum := md5.Sum([]byte(f.String()))
			h := hex.EncodeToString(sum[:])
			out = append(out, f.String(), h, strings.ToUpper(h))
		}
	}
	return out
}

// runService runs the agent as a service: the status socket beside it,
// and systemd told READY=1 when the agent's main loop starts, WATCHDOG=1
// from that loop at the pace WatchdogSec= asks, STATUS= when the summary
// changes, STOPPING=1 when it stops. Under no service manager the
// notifications are no-ops.
func runService(ctx context.Context, cfg *config.Config, a *agent.Agent, log *slog.Logger) error {
	sd, err := systemd.NewNotifier()
	if err != nil {
		return err
	}
	if sd.Enabled() {
		log.Info("running under systemd", "watchdog_ping", sd.WatchdogInterval())
	}
	// The loop ticks twice per ping interval: a tick a hair early skips
	// its ping, and the next one still comes well within WatchdogSec=.
	a.OnWatch(sd.WatchdogInterval()/2, func(now time.Time, s agent.Status) {
		if err := sd.Tick(now, s.Summary()); err != nil {
			log.Warn("cannot notify systemd", "err", err)
		}
	})
	srv := &statussock.Server{Path: filepath.Join(cfg.RuntimeDir, statussock.FileName),
		Snapshot: func() any { return a.Status() }, Group: cfg.StatusGroup, Logger: log.With("part", "status")}

	g, gctx := errgroup.WithContext(ctx)
	var stopAsked time.Time
	notified := make(chan struct{})
	stopNotify := context.AfterFunc(gctx, func() {
		defer close(notified)
		stopAsked = time.Now()
		reason := "stopping"
		if ctx.Err() == nil {
			reason = "stopping after an error"
		}
		log.Info(reason)
		if err := sd.Stopping(reason); err != nil {
			log.Warn("cannot notify systemd", "err", err)
		}
	})
	g.Go(func() error { return a.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	err = g.Wait()
	if !stopNotify() {
		<-notified
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if !stopAsked.IsZero() {
		log.Info("stopped", "took", time.Since(stopAsked).Round(10*time.Microsecond))
	}
	return err
}
