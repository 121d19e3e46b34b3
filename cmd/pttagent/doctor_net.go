package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
	"github.com/pttagent/pttagent/wire"
)

// endpoint is a broker or the platform, followed through DNS, TCP and TLS.
type endpoint struct {
	what    string // "broker", "platform"
	url     *url.URL
	host    string
	port    string
	tls     bool
	tlsConf *tls.Config
	addrs   []string // from DNS
	addr    string   // the one TCP reached
	failed  bool     // a step failed: later ones skip it
}

func (e *endpoint) name() string { return e.what + " " + e.url.Redacted() }

var defaultPorts = map[string]string{"tcp": "1883", "mqtt": "1883", "ssl": "8883", "tls": "8883", "mqtts": "8883",
	"mqtt+ssl": "8883", "tcps": "8883", "ws": "80", "wss": "443", "http": "80", "https": "443"}

// endpoints lists the brokers and the platform with the TLS settings the
// agent would use for each.
func (d *doctor) buildEndpoints() error {
	brokerTLS, err := dial.LoadTLS(d.cfg.MQTT.TLS.CAFile, d.cfg.MQTT.TLS.CertFile, d.cfg.MQTT.TLS.KeyFile,
		d.cfg.MQTT.TLS.ServerName, d.cfg.MQTT.TLS.InsecureSkipVerify)
	if err != nil {
		return err
	}
	add := func(what, raw string, tc *tls.Config) {
		u, err := url.Parse(raw)
		if err != nil {
			return // check-config refused it already
		}
		port := u.Port()
		if port == "" {
			port = defaultPorts[strings.ToLower(u.Scheme)]
		}
		d.endpoints = append(d.endpoints, &endpoint{what: what, url: u, host: u.Hostname(), port: port,
			tls: isTLSScheme(raw), tlsConf: tc})
	}
	for _, b := range d.cfg.MQTT.Brokers {
		add("broker", b, brokerTLS)
	}
	if p := d.cfg.Platform; p.Dialect != "none" && p.Dialect != "" {
		platTLS, err := dial.LoadTLS(p.CAFile, "", "", "", false)
		if err != nil {
			return err
		}
		add("platform", p.BaseURL, platTLS)
	}
	return nil
}

// netStep runs f on each endpoint still in the race and collects one
// line per endpoint; the step fails when any endpoint fails.
func (d *doctor) netStep(need func(*endpoint) bool, f func(*endpoint) (line string, o outcome, hint string)) finding {
	var lines, hints []string
	worst := stepOK
	n := 0
	for _, e := range d.endpoints {
		if e.failed || !need(e) {
			continue
		}
		n++
		line, o, hint := f(e)
		lines = append(lines, line)
		if o == stepFail {
			e.failed = true
		}
		if o > worst {
			worst = o
		}
		if hint != "" {
			hints = append(hints, hint)
		}
	}
	if n == 0 {
		return skipped("no endpoint to check")
	}
	return finding{o: worst, Lines: lines, Hint: strings.Join(hints, "; ")}
}

func (d *doctor) dns(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	if err := d.buildEndpoints(); err != nil {
		return fail("mqtt.tls / platform.ca_file: the files the agent would load", err.Error())
	}
	return d.netStep(func(*endpoint) bool { return true }, func(e *endpoint) (string, outcome, string) {
		if ip := net.ParseIP(e.host); ip != nil {
			e.addrs = []string{e.host}
			return e.name() + ": an address, no DNS needed", stepOK, ""
		}
		ctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, e.host)
		if err != nil {
			return e.name() + ": " + err.Error(), stepFail, "the handset's DNS (resolvectl status, /etc/resolv.conf), or a wrong name in the URL"
		}
		e.addrs = addrs
		return e.name() + ": " + e.host + " → " + strings.Join(addrs, ", "), stepOK, ""
	})
}

func (d *doctor) tcp(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	return d.netStep(func(*endpoint) bool { return true }, func(e *endpoint) (string, outcome, string) {
		var errs []string
		var last error
		for _, a := range e.addrs {
			addr := net.JoinHostPort(a, e.port)
			start := time.Now()
			dl := net.Dialer{Timeout: d.timeout}
			c, err := dl.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				e.addr = addr
				return fmt.Sprintf("%s: %s connected in %s", e.name(), addr, time.Since(start).Round(time.Millisecond)), stepOK, ""
			}
			errs, last = append(errs, err.Error()), err
		}
		return e.name() + ": " + strings.Join(errs, "; "), stepFail, tcpHint(last, e.port)
	})
}

func tcpHint(err error, port string) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens on port " + port + ": the server is down, or the port in the URL is wrong"
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "refused on this handset: an IPAddressAllow=/IPAddressDeny= drop-in or a firewall"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer: network, APN, routing or a firewall dropping the packets"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "no route: is the handset online (ip route)?"
	}
	return "network"
}

// expirySoon is when a certificate's end is worth a warning.
const expirySoon = 14 * 24 * time.Hour

// tls checks each TLS endpoint as the agent connects to it (its CA, its
// name) and describes the certificate; the platform's Date header tells
// whether this handset's clock is right, on which certificates depend.
func (d *doctor) tls(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	now := time.Now()
	f := d.netStep(func(e *endpoint) bool { return e.tls }, func(e *endpoint) (string, outcome, string) {
		return d.checkTLS(ctx, e, now)
	})
	if f.o == stepSkipped {
		f = ok("no TLS endpoint (plaintext brokers and platform)")
	}
	if line, o, hint := d.clockSkew(ctx); line != "" {
		f.Lines = append(f.Lines, line)
		if o > f.o {
			f.o = o
		}
		if hint != "" {
			f.Hint = strings.TrimPrefix(f.Hint+"; "+hint, "; ")
		}
	}
	return f
}

func (d *doctor) checkTLS(ctx context.Context, e *endpoint, now time.Time) (string, outcome, string) {
	conf := e.tlsConf.Clone()
	if conf.ServerName == "" {
		conf.ServerName = e.host
	}
	dl := &tls.Dialer{NetDialer: &net.Dialer{Timeout: d.timeout}, Config: conf}
	c, err := dl.DialContext(ctx, "tcp", e.addr)
	if err == nil {
		st := c.(*tls.Conn).ConnectionState()
		c.Close()
		leaf := st.PeerCertificates[0]
		line := fmt.Sprintf("%s: %s, certificate for %s, issued by %s, valid until %s (%d days)", e.name(), tls.VersionName(st.Version),
			certNames(leaf), leaf.Issuer.CommonName, leaf.NotAfter.Format("2006-01-02"), int(leaf.NotAfter.Sub(now).Hours()/24))
		switch {
		case conf.InsecureSkipVerify:
			return line + "; NOT VERIFIED (insecure_skip_verify)", stepWarn, "insecure_skip_verify accepts any certificate: for a bench only"
		case leaf.NotAfter.Sub(now) < expirySoon:
			return line, stepWarn, "the certificate expires soon: renew it on the server"
		}
		return line, stepOK, ""
	}
	// Why: look at the certificate without verifying it.
	peek := conf.Clone()
	peek.InsecureSkipVerify = true
	var leaf *x509.Certificate
	if pc, perr := (&tls.Dialer{NetDialer: &net.Dialer{Timeout: d.timeout}, Config: peek}).DialContext(ctx, "tcp", e.addr); perr == nil {
		if certs := pc.(*tls.Conn).ConnectionState().PeerCertificates; len(certs) > 0 {
			leaf = certs[0]
		}
		pc.Close()
	}
	line := e.name() + ": " + err.Error()
	key := "mqtt.tls.ca_file"
	if e.what == "platform" {
		key = "platform.ca_file"
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	switch {
	case leaf != nil && now.Before(leaf.NotBefore):
		return line, stepFail, fmt.Sprintf("the certificate is valid from %s, and this handset's clock says %s: the clock is wrong (timedatectl; enable NTP)",
			leaf.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case leaf != nil && now.After(leaf.NotAfter):
		return line, stepFail, fmt.Sprintf("the certificate expired on %s; if this handset's clock (%s) is right, renew it on the server",
			leaf.NotAfter.UTC().Format("2006-01-02"), now.UTC().Format(time.RFC3339))
	case errors.As(err, &unknown):
		issuer := "its CA"
		if leaf != nil {
			issuer = leaf.Issuer.CommonName
		}
		return line, stepFail, "the certificate is signed by " + issuer + ", which this handset does not trust: put that CA in " + key
	case errors.As(err, &host):
		names := ""
		if leaf != nil {
			names = " names " + certNames(leaf) + ","
		}
		return line, stepFail, "the certificate" + names + " not " + conf.ServerName + ": use its name in the URL (or mqtt.tls.server_name)"
	case errors.As(err, &inv):
		return line, stepFail, "the certificate is not valid for this use; see the server's certificate"
	}
	return line, stepFail, "the server does not speak TLS on this port, or refuses this handset's TLS (client certificate?)"
}

func certNames(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 || len(c.IPAddresses) > 0 {
		names := append([]string{}, c.DNSNames...)
		for _, ip := range c.IPAddresses {
			names = append(names, ip.String())
		}
		return strings.Join(names, ", ")
	}
	return c.Subject.CommonName
}

// maxSkew is how far this handset's clock may be from the platform's.
const maxSkew = time.Minute

// clockSkew compares the clock with the platform's Date header.
func (d *doctor) clockSkew(ctx context.Context) (string, outcome, string) {
	var plat *endpoint
	for _, e := range d.endpoints {
		if e.what == "platform" && !e.failed {
			plat = e
		}
	}
	if plat == nil {
		return "", stepOK, ""
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, plat.url.String(), nil)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: plat.tlsConf}, Timeout: d.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return "", stepOK, "" // the platform step says what is wrong with it
	}
	resp.Body.Close()
	at, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return "clock: the platform sends no Date to compare with", stepOK, ""
	}
	mid := start.Add(time.Since(start) / 2)
	skew := mid.Sub(at).Round(time.Second)
	// The header has whole seconds.
	if skew < maxSkew && skew > -maxSkew {
		return fmt.Sprintf("clock: within %s of the platform's", max(time.Second, skew.Abs())), stepOK, ""
	}
	return fmt.Sprintf("clock: %s off the platform's (this handset: %s, platform: %s)", skew.Abs(), mid.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339)),
		stepWarn, "set the clock: timedatectl set-ntp true (track points carry this clock's time)"
}

// mqtt logs in as the agent does and checks that the broker's ACL lets
// the device subscribe to its own topics and publish below its own tree.
// A running agent that is connected is not disturbed: the broker would
// drop its session for this one (same client id).
func (d *doctor) mqtt(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	if r := d.running; r != nil && r.Uplink.Connected {
		return ok(fmt.Sprintf("the running agent is connected to %s (since %s): logged in, subscriptions granted",
			r.Uplink.Broker, r.Uplink.Since.Local().Format("15:04:05")),
			"not logged in again: the broker would drop the agent's session for this one; stop the agent to test the login and ACL here")
	}
	var lines []string
	var last finding
	for _, e := range d.endpoints {
		if e.what != "broker" {
			continue
		}
		if e.failed {
			lines = append(lines, e.name()+": skipped (unreachable, see above)")
			continue
		}
		last = d.mqttBroker(ctx, e)
		if last.o == stepOK || last.o == stepWarn {
			last.Lines = append(lines, last.Lines...)
			return last
		}
		lines = append(lines, last.Lines...)
	}
	if last.Lines == nil {
		return skipped("no broker reachable")
	}
	last.Lines = lines
	return last
}

func (d *doctor) mqttBroker(ctx context.Context, e *endpoint) finding {
	topics := wire.Topics{Prefix: d.cfg.MQTT.TopicPrefix, Account: d.cfg.Device.Account}
	user := d.cfg.MQTT.Username
	if user == "" {
		user = d.cfg.Device.Account
	}
	conf := e.tlsConf.Clone()
	opts := paho.NewClientOptions().AddBroker(e.url.String()).SetClientID(d.cfg.Device.Account).SetUsername(user).
		SetPassword(d.cfg.Secrets.MQTTPassword).SetTLSConfig(conf).SetConnectTimeout(d.timeout).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).SetKeepAlive(30 * time.Second).
		SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
			dl := &net.Dialer{Timeout: d.timeout}
			if isTLSScheme(u.String()) {
				return tls.DialWithDialer(dl, "tcp", u.Host, o.TLSConfig)
			}
			return dl.Dial("tcp", u.Host)
		})
	if strings.HasPrefix(e.url.Scheme, "ws") {
		opts.SetCustomOpenConnectionFn(nil)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(d.timeout + time.Second) {
		return fail("the broker accepted TCP but did not answer MQTT: is it an MQTT port?", e.name()+": no CONNACK")
	}
	if err := tok.Error(); err != nil {
		hint := "see the error"
		switch {
		case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
			// mosquitto answers a wrong password "not authorised".
			hint = "mqtt.username (default: the device account) and mqtt_password in the secrets file (or the client certificate) must be what the broker knows"
		case errors.Is(err, packets.ErrorRefusedIDRejected):
			hint = "the broker refuses the client id (device.account)"
		}
		return fail(hint, fmt.Sprintf("%s: login as %s: %v", e.name(), user, err))
	}
	defer c.Disconnect(100)
	lines := []string{fmt.Sprintf("%s: logged in as %s (client id %s)", e.name(), user, d.cfg.Device.Account)}

	// Reading: the topics the agent subscribes to. A refusal is a SUBACK
	// code 0x80, the one thing MQTT 3.1.1 says about ACLs.
	subs := map[string]byte{topics.Event(): 1, topics.FloorDown(): 1, topics.MediaCtl(): 1}
	st := c.SubscribeMultiple(subs, func(paho.Client, paho.Message) {})
	if !st.WaitTimeout(d.timeout) || st.Error() != nil {
		return fail("the broker closed the session on a subscribe: its ACL or its limits", append(lines, fmt.Sprintf("subscribe: %v", st.Error()))...)
	}
	var refused, granted []string
	for t, code := range st.(*paho.SubscribeToken).Result() {
		if code >= 0x80 { // 0x80 in 3.1.1; some brokers send 5.0's 0x87
			refused = append(refused, t)
		} else {
			granted = append(granted, t)
		}
	}
	if len(refused) > 0 {
		return fail("the broker's ACL must let the device read its own topics (docs/protocol.md, the ACL)",
			append(lines, "the broker refused the subscriptions to "+strings.Join(slices.Sorted(slices.Values(refused)), ", "))...)
	}
	lines = append(lines, "subscriptions granted: "+strings.Join(slices.Sorted(slices.Values(granted)), ", ")+
		" (some brokers, mosquitto's ACL file among them, grant every subscription and filter what they deliver)")

	// Writing: MQTT 3.1.1 acknowledges a refused publish like any other.
	// The device's presence topic is its own; where the ACL lets it read
	// it back too (a lenient broker), the message proves the way; a
	// strict ACL hides it, as it should, and the acknowledgement is all
	// there is to see.
	echo := make(chan struct{}, 1)
	mark := fmt.Sprintf("doctor-%d", time.Now().UnixNano())
	c.Subscribe(topics.Status(), 1, func(_ paho.Client, m paho.Message) {
		if strings.Contains(string(m.Payload()), mark) {
			select {
			case echo <- struct{}{}:
			default:
			}
		}
	}).WaitTimeout(d.timeout)
	p := wire.Presence{State: "offline", Time: time.Now().Unix(), Reason: mark}
	pt := c.Publish(topics.Status(), 1, false, p.Encode())
	if !pt.WaitTimeout(d.timeout) || pt.Error() != nil {
		return fail("the broker closed the session on a publish: its ACL must let the device write below its own tree",
			append(lines, fmt.Sprintf("publish %s: %v", topics.Status(), pt.Error()))...)
	}
	select {
	case <-echo:
		return ok(append(lines, "published on "+topics.Status()+" and read it back")...)
	case <-time.After(min(d.timeout, 3*time.Second)):
		return ok(append(lines, "published on "+topics.Status()+": acknowledged (the device may not read its own status, "+
			"so whether the broker passed it on is not visible from here)")...)
	}
}

// loginRefused tells a refused login or token from a platform that
// cannot be reached or answers badly.
func loginRefused(err error) bool {
	var ce *corp.APIError
	var we *wapi.APIError
	return errors.Is(err, httpapi.ErrUnauthorized) || errors.Is(err, corp.ErrTokenRefused) || errors.Is(err, wapi.ErrNotLoggedIn) ||
		(errors.As(err, &ce) && (ce.Code == corp.CodeRefused || ce.Code == corp.CodeTokenInvalid)) ||
		(errors.As(err, &we) && we.Status == 501)
}

// platform logs in and fetches the member's settings and groups once, as
// the agent's sync does; a running agent that syncs is not disturbed.
func (d *doctor) platform(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	p := d.cfg.Platform
	if p.Dialect == "none" || p.Dialect == "" {
		return skipped("platform.dialect: none")
	}
	if r := d.running; r != nil && r.Platform != nil && r.Platform.LastError == "" && !r.Platform.LastSync.IsZero() {
		return ok(fmt.Sprintf("the running agent synced with %s at %s: %s, %d groups", p.BaseURL,
			r.Platform.LastSync.Local().Format("15:04:05"), r.Platform.State, len(r.Platform.Groups)))
	}
	for _, e := range d.endpoints {
		if e.what == "platform" && e.failed {
			return skipped("the platform is unreachable (see above)")
		}
	}
	client, err := agent.PlatformClient(d.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return fail("", err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 3*d.timeout)
	defer cancel()
	m, err := client.Fetch(ctx, nil)
	if err != nil {
		hint := "platform.base_url and the network"
		if loginRefused(err) {
			hint = "the platform refuses the login: platform_password (or platform_token) in the secrets file, platform.account"
		}
		return fail(hint, fmt.Sprintf("%s (%s): %v", p.BaseURL, p.Dialect, err))
	}
	var names []string
	for _, g := range m.Groups {
		names = append(names, fmt.Sprintf("%q", g.Name))
	}
	line := fmt.Sprintf("%s (%s): logged in as %s; member %q (%s), %d groups: %s", p.BaseURL, p.Dialect, m.Account,
		m.Self.Name, m.Self.State, len(m.Groups), orNone(names))
	if !m.Self.State.CanTalk() {
		return warn("the member is not enabled on the platform: push-to-talk is refused until an operator enables it", line)
	}
	if len(m.Groups) == 0 {
		return warn("the member is in no group: nobody to talk to until an operator adds it to one", line)
	}
	return ok(line)
}
