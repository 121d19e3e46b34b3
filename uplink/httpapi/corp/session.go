package corp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/httpapi"
)

// The session: log in, keep the access token fresh, and tell a refused
// token from any other failure.

// Errcodes that always mean "this token is refused".
const (
	// CodeRefused is what seed 000 answers every token-authenticated call
	// it refuses: {"errcode":"105","errmsg":"账号或密码错误"}, the same as a
	// wrong password at login.
	CodeRefused = 105
	// CodeTokenInvalid is the code older pttsim versions sent for an
	// unknown or expired token.
	CodeTokenInvalid = 40001
)

// After the second refusal (or failed login) in a row, refreshes and
// logins wait a backoff between these bounds.
const (
	RenewBackoffMin = 2 * time.Second
	RenewBackoffMax = 5 * time.Minute
)

// APIError is an answer whose errcode is not 0.
type APIError struct {
	Op   string
	Code int64
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("platform %s: errcode %d: %s", e.Op, e.Code, e.Msg)
}

// ErrTokenRefused is wrapped by the error of a call the platform refused
// even with a fresh token, and of a refresh or login held back by the
// backoff.
var ErrTokenRefused = errors.New("access token refused")

// call posts body to path with the access token and decodes data into out.
func (c *Client) call(ctx context.Context, path string, body, out any) error {
	if body == nil {
		body = struct{}{}
	}
	return c.authed(ctx, path, func(tok string) error {
		return c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: path, Query: url.Values{"access-token": {tok}}, Body: body}, out)
	})
}

// authed makes one token-authenticated call with f. A refusal — HTTP
// 401/403, errcode 105 (the seed's) or 40001, or any other errcode not yet
// seen to come back with a fresh token — renews the token (refresh, then
// login) and makes the call once more. An errcode that comes back the same
// with the fresh token is not about the token: it is returned, and not
// taken as a refusal again.
func (c *Client) authed(ctx context.Context, op string, f func(tok string) error) error {
	var first *APIError
	for try := 0; ; try++ {
		tok, err := c.ensureToken(ctx)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.stats.Requests++
		c.mu.Unlock()
		err = f(tok)
		var api *APIError
		errors.As(err, &api)
		switch {
		case err == nil:
			c.accepted()
			return nil
		case !c.refusal(err):
			if api != nil {
				c.accepted() // the platform took the token and answered
			}
			return err
		case try > 0 && api != nil && first != nil && api.Code == first.Code && !alwaysRefusal(api.Code):
			c.mu.Lock()
			if c.notRefusal == nil {
				c.notRefusal = map[int64]bool{}
			}
			c.notRefusal[api.Code] = true
			c.mu.Unlock()
			c.accepted()
			c.log().Info("platform errcode is not a token refusal: it came back with a fresh token", "op", op, "errcode", api.Code)
			return err
		}
		c.mu.Lock()
		c.stats.TokenRefused++
		c.noteFailureLocked(err)
		inARow := c.failures
		if c.token == tok {
			c.expires = time.Time{} // refresh, and log in if that is refused
		}
		c.mu.Unlock()
		if try > 0 {
			return fmt.Errorf("%w: %w", ErrTokenRefused, err)
		}
		first = api
		level := slog.LevelInfo
		if inARow > 1 {
			level = slog.LevelDebug // the sync's own warning says it, once per attempt
		}
		c.log().Log(ctx, level, "platform refused the access token; renewing it", "op", op, "err", err)
	}
}

func alwaysRefusal(code int64) bool { return code == CodeRefused || code == CodeTokenInvalid }

// refusal reports whether err, the answer to an authenticated call, may
// mean the token was refused.
func (c *Client) refusal(err error) bool {
	if errors.Is(err, httpapi.ErrUnauthorized) {
		return true
	}
	var api *APIError
	if !errors.As(err, &api) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return alwaysRefusal(api.Code) || !c.notRefusal[api.Code]
}

// accepted records that the platform took the token.
func (c *Client) accepted() {
	c.mu.Lock()
	c.failures, c.renewAt, c.lastErr = 0, time.Time{}, nil
	c.mu.Unlock()
}

// noteFailureLocked records a refusal or a failed login. The first renews
// at once (a token may just have expired); from the second on, the next
// renewal waits.
func (c *Client) noteFailureLocked(err error) {
	c.failures++
	c.lastErr = err
	if c.failures > 1 {
		c.renewAt = c.now().Add(dial.Backoff(c.failures-2, RenewBackoffMin, RenewBackoffMax))
	}
}

// post sends one request without a token (a login) and unwraps the
// envelope.
func (c *Client) post(ctx context.Context, path string, q url.Values, body, out any) error {
	c.mu.Lock()
	c.stats.Requests++
	c.mu.Unlock()
	return c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: path, Query: q, Body: body}, out)
}

// do sends one request and unwraps the envelope into out.
func (c *Client) do(ctx context.Context, req httpapi.Request, out any) error {
	path := req.Path
	data, err := c.HTTP.Do(ctx, req)
	if err != nil {
		return err
	}
	var env Envelope
	if err := httpapi.DecodeJSON(path, data, &env); err != nil {
		return err
	}
	if env.Errcode != 0 {
		return &APIError{Op: path, Code: int64(env.Errcode), Msg: env.Errmsg}
	}
	if out == nil {
		return nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return &httpapi.Malformed{Op: path, Err: errors.New("no data"), Body: data}
	}
	return httpapi.DecodeJSON(path, env.Data, out)
}

// current returns the token when it is not about to expire.
func (c *Client) current() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Refresh in the last fifth of the token's life (at most 10 minutes
	// before it ends), so a poll never carries a token about to die.
	margin := min(c.life/5, 10*time.Minute)
	return c.token, c.token != "" && c.now().Before(c.expires.Add(-margin))
}

// ensureToken returns a usable access token: the current one, a refreshed
// one when it is about to expire or was refused, or a new login.
func (c *Client) ensureToken(ctx context.Context) (string, error) {
	if tok, ok := c.current(); ok {
		return tok, nil
	}
	c.renewMu.Lock()
	defer c.renewMu.Unlock()
	if tok, ok := c.current(); ok {
		return tok, nil // another caller renewed it meanwhile
	}
	now := c.now()
	c.mu.Lock()
	tok, refresh, expires := c.token, c.refresh, c.expires
	failures, renewAt, lastErr := c.failures, c.renewAt, c.lastErr
	if failures > 0 && now.Before(renewAt) {
		c.stats.HeldBack++
		c.mu.Unlock()
		return "", fmt.Errorf("%w %d times in a row (last: %v); next refresh or login in %s",
			ErrTokenRefused, failures, lastErr, renewAt.Sub(now).Round(100*time.Millisecond))
	}
	c.mu.Unlock()
	if tok != "" && refresh != "" {
		const path = "/v1/sessions/refresh"
		var r Refresh
		err := c.post(ctx, path, url.Values{"access-token": {tok}}, map[string]string{"refresh_token": refresh}, &r)
		var api *APIError
		var pe *httpapi.Error
		switch {
		case err == nil && r.AccessToken != "" && r.ExpiresIn > 0:
			c.setToken(r.AccessToken, r.RefreshToken, time.Duration(r.ExpiresIn)*time.Second)
			c.mu.Lock()
			c.stats.Refreshes++
			c.mu.Unlock()
			c.log().Debug("platform access token refreshed", "expires_in", time.Duration(r.ExpiresIn)*time.Second)
			return r.AccessToken, nil
		case err == nil:
			c.log().Info("platform refresh answer without access_token or expires_in; logging in again")
		case errors.As(err, &api) || errors.Is(err, httpapi.ErrUnauthorized):
			c.mu.Lock()
			c.stats.RefreshRefused++
			c.mu.Unlock()
			c.log().Info("platform refused the token refresh; logging in again", "err", err)
		case errors.As(err, &pe) && pe.Temporary && now.Before(expires):
			return tok, nil // the platform is unreachable but the token still lives
		default:
			return "", err
		}
	}
	tok, err := c.login(ctx)
	if err != nil {
		var pe *httpapi.Error
		if !(errors.As(err, &pe) && pe.Temporary) && ctx.Err() == nil {
			c.mu.Lock()
			c.noteFailureLocked(err)
			c.mu.Unlock()
		}
		return "", err
	}
	return tok, nil
}

func (c *Client) setToken(tok, refresh string, life time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token, c.life, c.expires = tok, life, c.now().Add(life)
	if refresh != "" {
		c.refresh = refresh
	}
}

func (c *Client) login(ctx context.Context) (string, error) {
	path, body := "/v1/corp/web/login-by-name", map[string]string{"user_name": c.Account, "password": c.Password}
	if c.Method == LoginByAccount {
		path, body = "/v1/corp/web/login", map[string]string{"account": c.Account, "password": c.Password}
	}
	var l Login
	if err := c.post(ctx, path, nil, body, &l); err != nil {
		return "", fmt.Errorf("log in as %s: %w", c.Account, err)
	}
	if l.AccessToken == "" || l.ExpiresIn <= 0 || l.User.ID <= 0 || l.Org.Num <= 0 {
		return "", &httpapi.Malformed{Op: path, Err: errors.New("no access_token, expires_in, user.id or org.num")}
	}
	c.setToken(l.AccessToken, l.RefreshToken, time.Duration(l.ExpiresIn)*time.Second)
	c.mu.Lock()
	if c.userID != 0 && c.userID != int64(l.User.ID) {
		c.notIn = nil
	}
	c.userID, c.orgNum = int64(l.User.ID), int64(l.Org.Num)
	c.stats.Logins++
	c.mu.Unlock()
	c.log().Info("logged in to the platform", "account", c.Account, "user_id", int64(l.User.ID),
		"org", int64(l.Org.Num), "expires_in", time.Duration(l.ExpiresIn)*time.Second)
	return l.AccessToken, nil
}
