package mqtt_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

func connectOnce(t *testing.T, url string, o mqtt.Options) (up bool, lastErr string) {
	t.Helper()
	o.Brokers = []string{url}
	o.ClientID = "dev-tls"
	o.KeepAlive, o.ConnectTimeout = 5*time.Second, 3*time.Second
	o.ReconnectMin, o.ReconnectMax = time.Hour, time.Hour
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c := mqtt.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	wait.For(t, 5*time.Second, "a connection or a failed attempt", func() bool {
		up, _ = c.State()
		return up || c.Stats().Failures > 0
	})
	if up {
		return true, ""
	}
	return false, c.Stats().LastError
}

func TestTLSVerifiedAgainstConfiguredCA(t *testing.T) {
	ca := mqtttest.NewCA(t)
	cert, key := ca.Issue(t, "127.0.0.1", false)
	b := mqtttest.Start(t, mqtttest.Options{CertFile: cert, KeyFile: key})

	tc, err := dial.LoadTLS(ca.CertFile, "", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if up, err := connectOnce(t, b.URL(), mqtt.Options{TLS: tc}); !up {
		t.Fatalf("verified TLS failed: %s\n%s", err, b.Log())
	}

	// A broker whose certificate another CA signed is refused, and the
	// error says which setting to look at.
	other := mqtttest.NewCA(t)
	tc, _ = dial.LoadTLS(other.CertFile, "", "", "", false)
	up, msg := connectOnce(t, b.URL(), mqtt.Options{TLS: tc})
	if up || !strings.Contains(msg, "mqtt.tls.ca_file") {
		t.Fatalf("wrong CA: up=%v err=%q", up, msg)
	}

	// The certificate must name the host we dialled.
	tc, _ = dial.LoadTLS(ca.CertFile, "", "", "broker.example.com", false)
	up, msg = connectOnce(t, b.URL(), mqtt.Options{TLS: tc})
	if up || !strings.Contains(msg, "does not name this host") {
		t.Fatalf("wrong name: up=%v err=%q", up, msg)
	}

	// Only an explicit insecure_skip_verify accepts an unknown CA.
	tc, _ = dial.LoadTLS(other.CertFile, "", "", "", true)
	if up, err := connectOnce(t, b.URL(), mqtt.Options{TLS: tc}); !up {
		t.Fatalf("insecure_skip_verify did not connect: %s", err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	ca := mqtttest.NewCA(t)
	cert, key := ca.Issue(t, "127.0.0.1", false)
	b := mqtttest.Start(t, mqtttest.Options{CertFile: cert, KeyFile: key, CAFile: ca.CertFile, RequireClientCert: true})

	tc, _ := dial.LoadTLS(ca.CertFile, "", "", "", false)
	if up, _ := connectOnce(t, b.URL(), mqtt.Options{TLS: tc}); up {
		t.Fatal("connected without the required client certificate")
	}
	ccert, ckey := ca.Issue(t, "dev-tls", true)
	tc, err := dial.LoadTLS(ca.CertFile, ccert, ckey, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if up, err := connectOnce(t, b.URL(), mqtt.Options{TLS: tc}); !up {
		t.Fatalf("client certificate refused: %s\n%s", err, b.Log())
	}
}
