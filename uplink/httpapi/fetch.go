package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
)

// ErrForeignURL is the error of a Fetch of a URL that is not the
// platform's.
var ErrForeignURL = errors.New("not the platform's address")

// Fetch reads a file the platform serves — a voice message's URL from a
// group's history — with GET, at most limit bytes, retrying transient
// failures as Do does. Only the platform's own scheme and host:port are
// fetched (and redirects stay there): a URL in a message is data anyone
// who can post a message chose, and the handset must not be sent to fetch
// from wherever it points, nor downgraded to plaintext. No token is sent.
// A relative URL is taken below Base.
func (h *HTTP) Fetch(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	u, err := h.Base.Parse(rawURL)
	if err != nil {
		return nil, &Error{Op: "fetch", Err: fmt.Errorf("url: %w", err)}
	}
	if u.Scheme != h.Base.Scheme || hostPort(u) != hostPort(h.Base) || u.User != nil {
		return nil, &Error{Op: "fetch " + origin(u), Err: fmt.Errorf("%w (%s): only files the platform serves are fetched", ErrForeignURL, origin(h.Base))}
	}
	op := "fetch " + u.Path
	var last error
	for attempt := 0; attempt < max(h.Attempts, 1); attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, &Error{Op: op, Err: ctx.Err()}
			case <-time.After(dial.Backoff(attempt-1, h.BackoffMin, h.BackoffMax)):
			}
		}
		b, err := h.fetchOnce(ctx, op, u, limit)
		if err == nil {
			return b, nil
		}
		last = err
		var pe *Error
		if !errors.As(err, &pe) || !pe.Temporary || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, last
}

func (h *HTTP) fetchOnce(ctx context.Context, op string, u *url.URL, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &Error{Op: op, Err: err, Temporary: !errors.Is(err, ErrRedirect)}
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return nil, &Error{Op: op, Status: s, Err: errors.New(resp.Status), Temporary: true}
	case s < 200 || s >= 300:
		return nil, &Error{Op: op, Status: s, Err: errors.New(resp.Status)}
	}
	if resp.ContentLength > limit {
		return nil, &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, resp.ContentLength, limit)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &Error{Op: op, Status: resp.StatusCode, Err: err, Temporary: true}
	}
	if int64(len(data)) > limit {
		return nil, &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	}
	return data, nil
}
