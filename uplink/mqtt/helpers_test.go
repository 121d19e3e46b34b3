package mqtt_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/mqtt"
)

// quickClient is a Client as most tests here make it: a 5 s keep-alive,
// 50–100 ms reconnects, a quiet log. Run is the test's to call.
func quickClient(url, clientID string) *mqtt.Client {
	return mqtt.New(mqtt.Options{Brokers: []string{url}, ClientID: clientID, KeepAlive: 5 * time.Second,
		ConnectTimeout: 3 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// publisher is a plain paho client connected as clientID (the other end
// of a test: a platform, another device), disconnected when the test
// ends.
func publisher(t *testing.T, url, clientID string) paho.Client {
	t.Helper()
	return publisherWith(t, paho.NewClientOptions().AddBroker(url).SetClientID(clientID))
}

func publisherWith(t *testing.T, o *paho.ClientOptions) paho.Client {
	t.Helper()
	pub := paho.NewClient(o)
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(50) })
	return pub
}
