package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var accountRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// groupRE is a portable group name (useradd's rule, upper case allowed).
var groupRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

var standardBauds = []int{4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// validate checks the whole config at once so that a technician sees every
// mistake in one run; problems carry keys, Parse adds file and line.
//
// probe false leaves the file system alone: no directory is made to see
// whether it can be.
func (c *Config) validate(probe bool) []Problem {
	v := validation{probe: probe}

	if c.Device.Account == "" {
		v.err("device.account", "required: the device account on the platform (letters, digits, '.', '_', '-')")
	} else if !accountRE.MatchString(c.Device.Account) {
		v.err("device.account", "%q may only hold letters, digits, '.', '_' and '-' (at most 64): it is used as the MQTT client id and in topic names", c.Device.Account)
	}
	v.dir("state_dir", c.StateDir)
	v.dir("runtime_dir", c.RuntimeDir)
	if c.StatusGroup != "" && !groupRE.MatchString(c.StatusGroup) {
		v.err("status_group", "%q is not a group name (letters, digits, '_', '.', '-', at most 32, not starting with a digit or '-')", c.StatusGroup)
	}
	if c.Path == DefaultPath {
		for key, dir := range map[string]string{"state_dir": c.StateDir, "runtime_dir": c.RuntimeDir} {
			if dir != "" && !underServiceDir(dir) {
				v.warn(key, "%s is outside what the packaged service may write (%s; its unit has ProtectSystem=strict): "+
					"keep the default, or allow it with ReadWritePaths=%s in a drop-in (systemctl edit pttagent)", dir, strings.Join(ServiceDirs, ", "), dir)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.err("log.level", "%q is not a level; use debug, info, warn or error", c.Log.Level)
	}

	c.validateGPS(&v)

	// MQTT
	m := &c.MQTT
	if len(m.Brokers) == 0 {
		v.err("mqtt.brokers", "required: at least one broker URL, e.g. mqtts://broker.example.com:8883")
	}
	usesTLS := false
	for i, b := range m.Brokers {
		key := fmt.Sprintf("mqtt.brokers[%d]", i)
		u, err := url.Parse(b)
		if err != nil || u.Host == "" {
			v.err(key, "%q is not a broker URL; write it like mqtts://broker.example.com:8883", redactURL(b))
			continue
		}
		if !v.address(key, u, "broker", "mqtt.username") {
			continue
		}
		b = u.Redacted()
		switch u.Scheme {
		case "mqtts", "ssl", "tls", "wss":
			usesTLS = true
		case "tcp", "mqtt", "ws":
			if !isLoopback(u.Hostname()) && !m.AllowPlaintext {
				v.err(key, "%s is plaintext to a host that is not this machine; use mqtts:// (TLS), or set mqtt.allow_plaintext: true if the network is trusted", b)
			}
		default:
			v.err(key, "scheme %q is not supported; use mqtts, ssl, tls, wss, tcp, mqtt or ws", u.Scheme)
		}
		if u.Port() == "" {
			v.err(key, "%q has no port; add it (mqtts usually :8883, tcp :1883)", b)
		}
	}
	if m.Username != "" && !accountRE.MatchString(m.Username) && strings.ContainsAny(m.Username, " \t\n") {
		v.err("mqtt.username", "must not contain white space")
	}
	if m.TopicPrefix == "" || strings.ContainsAny(m.TopicPrefix, "+#") || strings.HasPrefix(m.TopicPrefix, "/") || strings.HasSuffix(m.TopicPrefix, "/") {
		v.err("mqtt.topic_prefix", "%q must be non-empty, without + or #, and not start or end with /", m.TopicPrefix)
	}
	v.between("mqtt.keepalive", m.KeepAlive, 5*time.Second, 20*time.Minute)
	v.between("mqtt.connect_timeout", m.ConnectTimeout, time.Second, 5*time.Minute)
	v.between("mqtt.reconnect_min", m.ReconnectMin, 100*time.Millisecond, time.Hour)
	v.between("mqtt.reconnect_max", m.ReconnectMax, m.ReconnectMin.D(), 24*time.Hour)
	v.between("mqtt.ack_timeout", m.AckTimeout, time.Second, time.Hour)
	v.caFile("mqtt.tls.ca_file", m.TLS.CAFile)
	switch {
	case (m.TLS.CertFile == "") != (m.TLS.KeyFile == ""):
		v.err("mqtt.tls", "cert_file and key_file go together: set both for a client certificate, or neither")
	case m.TLS.CertFile != "":
		if err := loadKeyPair(m.TLS.CertFile, m.TLS.KeyFile); err != nil {
			v.err("mqtt.tls.cert_file", "cannot load the client certificate and key: %v", unwrapPath(err))
		} else if fi, err := os.Stat(m.TLS.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			v.err("mqtt.tls.key_file", "%s has mode %04o: group or others can read the private key; run: chmod 600 %s", m.TLS.KeyFile, fi.Mode().Perm(), m.TLS.KeyFile)
		}
	}
	if m.TLS.InsecureSkipVerify {
		v.warn("mqtt.tls.insecure_skip_verify", "the broker's certificate is not checked: anyone on the path can read and change the traffic")
	}
	if !usesTLS && (m.TLS.CAFile != "" || m.TLS.CertFile != "") {
		v.warn("mqtt.tls", "TLS files are set but no broker URL uses TLS (mqtts://)")
	}

	// Tracks
	t := &c.Tracks
	switch {
	case t.Track < 0:
		v.err("tracks.track", "%d is negative; use 0 (off), 1 (high), 2 (medium), 3 (low) or a period in seconds ≥ 5", t.Track)
	case t.Track == 4:
		v.err("tracks.track", "4 is reserved by the platform; use 0 (off), 1 (high), 2 (medium), 3 (low) or a period in seconds ≥ 5")
	case t.Track > 4 && t.Track > 86400:
		v.err("tracks.track", "%d s is more than a day; use a period in seconds up to 86400", t.Track)
	}
	// Sub-second periods are allowed for bench tests, not sent by platforms.
	v.between("tracks.periods.high", t.Periods.High, 100*time.Millisecond, 24*time.Hour)
	v.between("tracks.periods.medium", t.Periods.Medium, 100*time.Millisecond, 24*time.Hour)
	v.between("tracks.periods.low", t.Periods.Low, 100*time.Millisecond, 24*time.Hour)
	if t.MinDistance < 0 || t.MinDistance > 100_000 {
		v.err("tracks.min_distance", "%g m is out of range; use 0 (off) to 100000", t.MinDistance)
	}
	if t.Heartbeat != 0 {
		v.between("tracks.heartbeat", t.Heartbeat, 10*time.Second, 24*time.Hour)
	}
	// Checked when off too: turning it on must not be what reveals a
	// mistake made long before.
	if t.Corner.MinSpeed < 0 || t.Corner.MinSpeed > 500 {
		v.err("tracks.corner_pegging.min_speed", "%g km/h is out of range; use 0 to 500", t.Corner.MinSpeed)
	}
	if t.Corner.MinTurn <= 0 || t.Corner.MinTurn >= 180 {
		v.err("tracks.corner_pegging.min_turn", "%g° is out of range; use more than 0 and less than 180", t.Corner.MinTurn)
	}
	if t.Corner.TurnSlope < 0 || t.Corner.TurnSlope > 10_000 {
		v.err("tracks.corner_pegging.turn_slope", "%g is out of range; use 0 to 10000 (deg·km/h)", t.Corner.TurnSlope)
	}
	v.between("tracks.corner_pegging.min_interval", t.Corner.MinInterval, time.Second, time.Hour)
	q := &t.Queue
	v.intBetween("tracks.queue.max_points", q.MaxPoints, 1000, 10_000_000)
	v.intBetween("tracks.queue.batch_points", q.BatchPoints, 1, 1000)
	v.intBetween("tracks.queue.batch_bytes", q.BatchBytes, 256, 256<<10)
	v.intBetween("tracks.queue.max_inflight", q.MaxInflight, 1, 64)
	v.between("tracks.queue.send_delay", q.SendDelay, 0, 10*time.Minute)
	v.between("tracks.queue.parked_send_delay", q.ParkedSendDelay, 0, time.Hour)
	switch t.Encoding {
	case "auto", "json", "cbor":
	default:
		v.err("tracks.encoding", "%q is not a track encoding; use auto (cbor when the platform says it reads it), json (version 1, what every platform decodes) or cbor (version 2, compact)", t.Encoding)
	}

	if c.Board.BenchSocket != "" {
		v.dir("board.bench_socket", filepath.Dir(c.Board.BenchSocket))
	}
	c.validatePTT(&v)
	c.validateMessages(&v)
	c.validateEmergency(&v)
	// Platform
	c.validatePlatform(&v)
	return v.problems
}

type validation struct {
	problems []Problem
	probe    bool
}

func (v *validation) err(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validation) warn(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Msg: fmt.Sprintf(format, args...), Warning: true})
}

func (v *validation) between(key string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		v.err(key, "%s is out of range; use %s to %s", d, lo, hi)
	}
}

func (v *validation) intBetween(key string, n, lo, hi int) {
	if n < lo || n > hi {
		v.err(key, "%d is out of range; use %d to %d", n, lo, hi)
	}
}

func (v *validation) dir(key, path string) {
	if path == "" {
		v.err(key, "must not be empty")
		return
	}
	if v.probe {
		v.dirFor(key, path)
	} else if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		v.err(key, "%s exists and is not a directory", path)
	}
}

// address checks the host and port of a broker or platform URL; false
// when the URL is not worth checking further.
func (v *validation) address(key string, u *url.URL, what, userKey string) bool {
	shown := u.Redacted()
	if u.User != nil {
		// They would be logged at every reconnection and shown by status.
		v.err(key, "%s holds a user name or password, which would be logged and shown by status: "+
			"put the user name in %s and the password in the secrets file (secrets_file)", shown, userKey)
	}
	host := u.Hostname()
	if host == "" {
		v.err(key, "%q has no host; write it like %s://HOST:PORT", shown, u.Scheme)
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			v.err(key, "%s has port %s; use 1 to 65535", shown, p)
		}
	}
	if isPlaceholder(host) {
		v.err(key, "%s is a placeholder (example.com, .net, .org and .example are reserved for examples, RFC 2606): write your %s's address", host, what)
	}
	return true
}

// isPlaceholder: the example config's broker.example.com and
// platform.example.com can never be reached; a handset that still names
// them was never provisioned.
func isPlaceholder(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range []string{"example.com", "example.net", "example.org", "example"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// redactURL hides the password of a URL url.Parse refused.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			return scheme + "://" + user + ":xxxxx" + rest[at:]
		}
	}
	return s
}

func (v *validation) caFile(key, path string) {
	if path == "" {
		return
	}
	if pem, err := readRegular(path, maxPEMSize); err != nil {
		v.err(key, "cannot read it: %v", unwrapPath(err))
	} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		v.err(key, "%s holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")", path)
	}
}

// loadKeyPair is tls.LoadX509KeyPair through readRegular.
func loadKeyPair(certFile, keyFile string) error {
	cert, err := readRegular(certFile, maxPEMSize)
	if err != nil {
		return err
	}
	key, err := readRegular(keyFile, maxPEMSize)
	if err != nil {
		return err
	}
	_, err = tls.X509KeyPair(cert, key)
	return err
}

func describeFile(m fs.FileMode) string {
	if m.IsRegular() {
		return "a regular file"
	}
	return describeMode(m)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func contains(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func joinInts(list []int) string {
	s := make([]string, len(list))
	for i, n := range list {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// unwrapPath drops the operation prefix of a *PathError: the message already
// says which key and file it is about.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// validatePlatform checks every platform key, with dialect none too: a
// mistake must not wait for the day a platform is turned on.
func (c *Config) validatePlatform(v *validation) {
	p := &c.Platform
	switch p.Dialect {
	case "none", "corp", "wapi":
	default:
		v.err("platform.dialect", "%q is not a platform dialect; use none (settings from this file), corp (/v1/corp/web API) or wapi (/wapi API)", p.Dialect)
	}
	if p.BaseURL == "" {
		if p.Dialect == "corp" || p.Dialect == "wapi" {
			v.err("platform.base_url", "required with platform.dialect %s: the platform's address, e.g. https://platform.example.com", p.Dialect)
		}
	} else if u, err := url.Parse(p.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.err("platform.base_url", "%q is not an http(s) URL; write it like https://platform.example.com", redactURL(p.BaseURL))
	} else if v.address("platform.base_url", u, "platform", "platform.account") && u.Scheme == "http" && !isLoopback(u.Hostname()) && !p.AllowPlaintext {
		v.err("platform.base_url", "%s is plaintext to a host that is not this machine; use https://, or set platform.allow_plaintext: true if the network is trusted", u.Redacted())
	}
	if p.Account != "" && strings.ContainsAny(p.Account, " \t\n") {
		v.err("platform.account", "must not contain white space")
	}
	switch p.Login {
	case "name", "account":
	default:
		v.err("platform.login", "%q is not a login call; use name (login-by-name) or account (login with an account or a phone number)", p.Login)
	}
	v.between("platform.poll", p.Poll, time.Second, 24*time.Hour)
	v.between("platform.poll_with_events", p.PollWithEvents, time.Second, 24*time.Hour)
	v.between("platform.full_refresh", p.FullRefresh, time.Minute, 7*24*time.Hour)
	// With events on, a poll is rare and reading everything is its point;
	// without, a full read at every poll is a cost worth a word.
	if !p.Events && p.FullRefresh.D() < p.Poll.D() {
		v.warn("platform.full_refresh", "%s is shorter than platform.poll (%s): every poll reads everything", p.FullRefresh, p.Poll)
	}
	if p.Dialect == "wapi" {
		switch p.WapiLogin {
		case "token", "user-login":
		default:
			v.err("platform.wapi_login", "%q is not a wapi login; use token (platform_token from the secrets file) or user-login (POST /wapi/user/login with platform_password)", p.WapiLogin)
		}
	}
	v.between("platform.request_timeout", p.RequestTimeout, 100*time.Millisecond, 5*time.Minute)
	v.caFile("platform.ca_file", p.CAFile)
	if p.Dialect != "none" && p.Events && p.PollWithEvents.D() < 10*time.Second {
		v.warn("platform.poll_with_events", "%s polls the platform often; events already bring changes within seconds", p.PollWithEvents)
	}
}
