// Package httpapi is the HTTP plumbing both platform dialects share:
// per-request timeouts, body size limits, retries with capped backoff and
// jitter, and lenient decoding of the numbers the seeds send sometimes as
// numbers, sometimes as strings. The dialects are in corp/ and wapi/.
package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/radio"
)

// HTTP is the transport both dialects share. Every request has its own
// deadline (a platform that hangs must not hold the agent), every body is
// read through a size limit (a platform that sends gigabytes must not fill
// the handset's memory), and transient failures — network errors,
// timeouts, HTTP 5xx, 408 and 429 — are retried with capped exponential
// backoff and jitter. URLs in errors and logs carry no query string: the
// corp API puts the access token there.
type HTTP struct {
	Base     *url.URL
	Client   *http.Client
	Timeout  time.Duration // per attempt
	MaxBody  int64         // bytes
	Attempts int           // per call, ≥ 1
	// BackoffMin and BackoffMax bound the wait between attempts.
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
}

// Options build an HTTP.
type Options struct {
	BaseURL  string
	Timeout  time.Duration
	CAFile   string // PEM; empty: the system's CAs
	MaxBody  int64  // 0: DefaultMaxBody
	Attempts int    // 0: 3
	// Radio, if set, hears of every read and write on the platform's
	// connections.
	Radio  *radio.Radio
	Logger *slog.Logger
}

// DefaultMaxBody bounds one answer. The largest a handset reads is an
// org's address list; 8 MB holds tens of thousands of members.
const DefaultMaxBody = 8 << 20

// NewHTTP prepares the transport. TLS certificates are verified against
// CAFile or the system's CAs; there is no switch to skip verification.
func NewHTTP(o Options) (*HTTP, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("platform base_url %q: want http(s)://host[:port][/path]", o.BaseURL)
	}
	tc, err := dial.LoadTLS(o.CAFile, "", "", "", false)
	if err != nil {
		return nil, fmt.Errorf("platform %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	tr.TLSClientConfig = tc
	tr.ResponseHeaderTimeout = o.Timeout
	// The connection lives for one fetch: a sync's few requests in a row
	// share it, then it closes while the radio is still awake from them
	// (CloseIdle, or IdleTimeout at the latest). The next poll, minutes
	// later, resumes the TLS session from the ticket the platform gave
	// (ClientSessionCache): a few hundred bytes instead of a full
	// handshake with the certificate chain. Kept open instead, an idle
	// connection is closed by the platform (nginx: 75 s), a NAT or Go
	// itself (90 s) at a moment of their own — a radio wake-up for a FIN —
	// and TCP keep-alive probes (Go's default: every 15–30 s, at either
	// end) wake the radio meanwhile. BENCHMARKS.md has the figures.
	tr.IdleConnTimeout = IdleTimeout
	rad := o.Radio
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: -1}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || rad == nil {
			return c, err
		}
		rad.Used()
		return radioConn{Conn: c, r: rad}, nil
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Attempts == 0 {
		o.Attempts = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &HTTP{Base: u, Client: &http.Client{Transport: tr, CheckRedirect: checkRedirect}, Timeout: o.Timeout, MaxBody: o.MaxBody,
		Attempts: o.Attempts, BackoffMin: 500 * time.Millisecond, BackoffMax: 10 * time.Second, Logger: o.Logger}, nil
}

// IdleTimeout closes a platform connection nobody uses: longer than the
// pause between the requests of one fetch, well within the radio's 10 s
// tail after it.
const IdleTimeout = 3 * time.Second

// CloseIdle closes the connections not in use now: call it when a fetch
// is done, so that the connection ends in the radio wake-up of the fetch.
func (h *HTTP) CloseIdle() { h.Client.CloseIdleConnections() }

// radioConn tells the radio of each read and write.
type radioConn struct {
	net.Conn
	r *radio.Radio
}

func (c radioConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.r.Used()
	}
	return n, err
}

func (c radioConn) Write(p []byte) (int, error) {
	c.r.Used()
	return c.Conn.Write(p)
}

// NetConn is the connection underneath, as tls.Conn's.
func (c radioConn) NetConn() net.Conn { return c.Conn }

// Request is one API call.
type Request struct {
	Method string
	Path   string // below the base URL, e.g. /v1/corp/web/org-my-org
	Query  url.Values
	Header http.Header
	Body   any // JSON-encoded; nil sends no body
	// Raw, when set, is sent as is with ContentType instead of Body (a
	// multipart file upload).
	Raw         []byte
	ContentType string
	// Timeout bounds one attempt instead of the HTTP's (a large upload).
	Timeout time.Duration
}

// Error is a failed call. Temporary errors were retried and may succeed
// later; others (4xx) will not until something changes.
type Error struct {
	Op        string // the path
	Status    int    // HTTP status, 0 when none arrived
	Err       error
	Temporary bool
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("platform %s: HTTP %d: %v", e.Op, e.Status, e.Err)
	}
	return fmt.Sprintf("platform %s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is the error of an answer longer than MaxBody.
var ErrTooLarge = errors.New("answer too large")

// ErrUnauthorized is the error of HTTP 401/403: the token was refused.
var ErrUnauthorized = errors.New("unauthorized")

// ErrRedirect is the error of a redirect the agent refuses to follow.
var ErrRedirect = errors.New("redirect refused")

// maxRedirects bounds the same-host redirects followed for one request.
const maxRedirects = 3

// checkRedirect follows a redirect only to the same scheme and host:port
// as the request the agent made. Go re-sends a 307/308's body and the
// caller's headers to wherever the platform points: the corp login body
// (account and password hash) and the wapi token header would reach
// another host, and https→http would put them on the wire in clear,
// bypassing the config's "plaintext only to loopback".
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	to := req.URL
	switch {
	case first.Scheme == "https" && to.Scheme != "https":
		return fmt.Errorf("%w: the platform redirects %s to %s, a downgrade to plaintext", ErrRedirect, origin(first), origin(to))
	case first.Scheme != to.Scheme || hostPort(first) != hostPort(to):
		return fmt.Errorf("%w: the platform redirects %s to another host, %s; if that is the platform's address, set platform.base_url to it",
			ErrRedirect, origin(first), origin(to))
	case len(via) > maxRedirects:
		return fmt.Errorf("%w: more than %d redirects", ErrRedirect, maxRedirects)
	}
	return nil
}

// hostPort is the URL's host and port, the default port made explicit, so
// that https://p and https://p:443 are the same host and http://p:80 and
// http://p:8080 are not.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// origin shows where a URL points without its path and query (the corp
// token travels in the query).
func origin(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// Do sends req and returns the body of a 2xx answer, retrying transient
// failures. It gives up when ctx ends.
func (h *HTTP) Do(ctx context.Context, req Request) ([]byte, error) {
	var last error
	for attempt := 0; attempt < max(h.Attempts, 1); attempt++ {
		if attempt > 0 {
			wait := dial.Backoff(attempt-1, h.BackoffMin, h.BackoffMax)
			h.Logger.Debug("platform request failed; retrying", "op", req.Path, "attempt", attempt, "in", wait, "err", last)
			select {
			case <-ctx.Done():
				return nil, &Error{Op: req.Path, Err: ctx.Err()}
			case <-time.After(wait):
			}
		}
		body, err := h.once(ctx, req)
		if err == nil {
			return body, nil
		}
		last = err
		var pe *Error
		if !errors.As(err, &pe) || !pe.Temporary || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, last
}

func (h *HTTP) once(ctx context.Context, r Request) ([]byte, error) {
	timeout := h.Timeout
	if r.Timeout > 0 {
		timeout = r.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *h.Base
	u.Path = strings.TrimRight(u.Path, "/") + r.Path
	u.RawQuery = r.Query.Encode()
	var body io.Reader
	if r.Raw != nil {
		body = bytes.NewReader(r.Raw)
	} else if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, &Error{Op: r.Path, Err: err}
		}
		body = bytes.NewReader(b)
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, &Error{Op: r.Path, Err: err}
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	switch {
	case r.Raw != nil:
		req.Header.Set("Content-Type", r.ContentType)
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, query (token) included: keep the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, ErrRedirect) {
			// Asking again gets the same redirect.
			return nil, &Error{Op: r.Path, Err: err}
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		// Refused connections, resets, DNS and timeouts all may pass.
		return nil, &Error{Op: r.Path, Err: err, Temporary: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.MaxBody+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("answer not complete within %s", timeout)
		}
		return nil, &Error{Op: r.Path, Status: resp.StatusCode, Err: err, Temporary: true}
	}
	if int64(len(data)) > h.MaxBody {
		return nil, &Error{Op: r.Path, Status: resp.StatusCode, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, h.MaxBody)}
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return data, nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, &Error{Op: r.Path, Status: s, Err: ErrUnauthorized}
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return nil, &Error{Op: r.Path, Status: s, Err: errors.New(snippet(data)), Temporary: true}
	default:
		return data, &Error{Op: r.Path, Status: s, Err: errors.New(snippet(data))}
	}
}

// snippet shows the start of a body in an error, as text on one line.
func snippet(b []byte) string {
	const n = 80
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "empty body"
	}
	return fmt.Sprintf("%q", s)
}

// Malformed is the error of an answer that is not the JSON the seed shows.
type Malformed struct {
	Op   string
	Err  error
	Body []byte // the start of the answer, for the log
}

func (e *Malformed) Error() string {
	if e.Body == nil {
		return fmt.Sprintf("platform %s: malformed answer: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("platform %s: malformed answer (%v): %s", e.Op, e.Err, snippet(e.Body))
}

func (e *Malformed) Unwrap() error { return e.Err }

// DecodeJSON unmarshals an answer, wrapping failures as *Malformed.
func DecodeJSON(op string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		b := body
		if len(b) > 200 {
			b = b[:200]
		}
		return &Malformed{Op: op, Err: err, Body: b}
	}
	return nil
}
