package systemd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// LogOptions configure NewLogHandler.
type LogOptions struct {
	// Level is the least severe level written (default info).
	Level slog.Leveler
	// Journal writes for journald: each line starts with its syslog
	// priority ("<6>" for info, sd-daemon(3)) and carries no timestamp,
	// which journald adds. Set it from StderrIsJournal.
	Journal bool
	// RepeatWindow: a line identical to the last one written with the same
	// level and message, less than this ago, is held back and counted; when
	// the window closes, or a line with the same message but other
	// attributes comes, one line says how many were held back
	// ("… repeated=57"). So a changed state ("track settings … period=5s"
	// after "… period=15s") always shows at once, while a flapping pair
	// of lines is still held back. 0 means 30 s; negative turns it off.
	RepeatWindow time.Duration
	// Redact lists strings (the secrets) replaced by "[REDACTED]" wherever
	// they would appear. Secrets are never logged on purpose; this catches
	// an error text that happens to quote one. A secret holding a quote, a
	// backslash, a tab or another character the log escapes is found in
	// its escaped forms too: once (a quoted value) and twice (a %q inside
	// a quoted value).
	//
	// A secret shorter than MinRedact bytes replaces only an attribute
	// value (or a message) that is the secret as a whole: replacing a bench
	// password such as "demo" everywhere would mangle the log
	// ("device=[REDACTED]-0001"), so inside a longer text it shows.
	// check-config warns about such secrets (config.ShortSecret).
	Redact []string
}

// DefaultRepeatWindow is the RepeatWindow used when LogOptions leaves it 0.
const DefaultRepeatWindow = 30 * time.Second

// Redacted replaces a secret in the log output.
const Redacted = "[REDACTED]"

// MinRedact is the shortest secret the handler looks for.
const MinRedact = 8

// StderrIsJournal reports whether stderr is connected to the journal
// (JOURNAL_STREAM names stderr's device and inode), as it is for a service
// with the default StandardError=journal.
func StderrIsJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return ok && err == nil
}

// LogHandler is a slog.Handler writing key=value lines (slog's text
// format) for a terminal or for journald, with repeats held back.
type LogHandler struct {
	inner slog.Handler // formats into out.buf
	out   *logOutput
}

var _ slog.Handler = (*LogHandler)(nil)

// logOutput is shared by a handler and its WithAttrs/WithGroup children:
// one lock, one line buffer, one table of recent lines.
type logOutput struct {
	w       io.Writer
	journal bool
	window  time.Duration
	redact  [][]byte // the secrets and their escaped forms
	whole   []string // secrets shorter than MinRedact
	now     func() time.Time

	mu     sync.Mutex
	buf    bytes.Buffer // the record, formatted by slog's text handler
	out    []byte       // the line as written, reused
	recent map[lineKey]*recentLine
}

// lineKey groups lines by what they are about; the attributes are what
// changes.
type lineKey struct {
	level slog.Level
	msg   string
}

type recentLine struct {
	line  string // the last line written for the key
	until time.Time
	held  int
	timer *time.Timer
}

// maxRecent bounds the table of recent lines; past it, held counts are
// written out early rather than kept forever.
const maxRecent = 512

// NewLogHandler writes log records to w.
func NewLogHandler(w io.Writer, opts LogOptions) *LogHandler {
	o := &logOutput{w: w, journal: opts.Journal, window: opts.RepeatWindow, now: time.Now,
		recent: map[lineKey]*recentLine{}}
	if o.window == 0 {
		o.window = DefaultRepeatWindow
	}
	for _, s := range opts.Redact {
		switch {
		case s == "":
		case len(s) < MinRedact:
			o.whole = append(o.whole, s)
		default:
			once := quoted(s)
			for _, form := range []string{s, once, quoted(once)} {
				if !slices.ContainsFunc(o.redact, func(b []byte) bool { return string(b) == form }) {
					o.redact = append(o.redact, []byte(form))
				}
			}
		}
	}
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	inner := slog.NewTextHandler(&o.buf, &slog.HandlerOptions{Level: level,
		// The time is written by Handle (or by journald), so that two
		// identical records format to identical text.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			if len(o.whole) > 0 && !(len(groups) == 0 && a.Key == slog.LevelKey) && o.isWholeSecret(a.Value) {
				return slog.String(a.Key, Redacted)
			}
			return a
		}})
	return &LogHandler{inner: inner, out: o}
}

// quoted is s as slog's text format (strconv.Quote) writes it inside a
// quoted value.
func quoted(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// isWholeSecret reports whether v, as the log would write it, is one of
// the short secrets.
func (o *logOutput) isWholeSecret(v slog.Value) bool {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		case []byte:
			s = string(x)
		default:
			return false
		}
	default:
		return false
	}
	return slices.Contains(o.whole, s)
}

func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), out: h.out}
}

func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	line := o.buf.Bytes()
	for _, secret := range o.redact {
		if bytes.Contains(line, secret) {
			line = bytes.ReplaceAll(line, secret, []byte(Redacted))
		}
	}
	if o.window < 0 {
		return o.write(r.Level, r.Time, line, 0)
	}
	now := o.now()
	key := lineKey{r.Level, r.Message}
	if rl := o.recent[key]; rl != nil {
		// Comparing with string(line) does not allocate.
		if rl.line == string(line) && now.Before(rl.until) {
			rl.held++
			if rl.timer == nil {
				rl.timer = time.AfterFunc(rl.until.Sub(now), func() { o.expire(key, rl) })
			}
			return nil
		}
		o.closeLocked(key, rl)
	}
	if len(o.recent) >= maxRecent {
		o.flushLocked()
	}
	o.recent[key] = &recentLine{line: string(line), until: now.Add(o.window)}
	return o.write(r.Level, r.Time, line, 0)
}

// Flush writes the counts of lines still held back. Call it before the
// process exits.
func (h *LogHandler) Flush() {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.flushLocked()
}

// expire ends rl's window when its timer fires, unless the window was
// already closed (by Flush, or by a later line after the window).
func (o *logOutput) expire(key lineKey, rl *recentLine) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.recent[key] == rl {
		o.closeLocked(key, rl)
	}
}

func (o *logOutput) flushLocked() {
	for key, rl := range o.recent {
		o.closeLocked(key, rl)
	}
}

// closeLocked ends a line's window, saying how often it was held back.
func (o *logOutput) closeLocked(key lineKey, rl *recentLine) {
	if rl.timer != nil {
		rl.timer.Stop()
	}
	delete(o.recent, key)
	if rl.held > 0 {
		o.write(key.level, o.now(), []byte(rl.line), rl.held)
	}
}

// write puts out one line: "<prio>" for journald, or "time=… " for
// everyone else, then the formatted record.
func (o *logOutput) write(level slog.Level, t time.Time, line []byte, repeated int) error {
	b := o.out[:0]
	if o.journal {
		b = append(b, '<')
		b = strconv.AppendInt(b, int64(priority(level)), 10)
		b = append(b, '>')
	} else if !t.IsZero() {
		b = append(b, "time="...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, ' ')
	}
	if repeated > 0 {
		b = append(b, bytes.TrimSuffix(line, []byte("\n"))...)
		b = append(b, " repeated="...)
		b = strconv.AppendInt(b, int64(repeated), 10)
		b = append(b, '\n')
	} else {
		b = append(b, line...)
	}
	o.out = b
	_, err := o.w.Write(b)
	return err
}

// priority maps a slog level to a syslog priority (sd-daemon(3)):
// 3 err, 4 warning, 6 info, 7 debug.
func priority(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 7
	case l < slog.LevelWarn:
		return 6
	case l < slog.LevelError:
		return 4
	}
	return 3
}
