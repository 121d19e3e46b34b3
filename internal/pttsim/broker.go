package pttsim

import (
	"fmt"
	"log/slog"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// embedBroker starts an in-process MQTT broker on addr (host:port) that
// lets every client in: for a bench or a demo on one machine, never a
// network. It returns the function that stops it.
func embedBroker(addr string, log *slog.Logger) (func(), error) {
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: log})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, err
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})); err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	log.Info("embedded MQTT broker listening", "addr", addr)
	return func() {
		// mochi's Close can deadlock when a client connects while it
		// closes (Clients.GetByListener read-locks twice, and a client's
		// attach waits to write between: mochi-mqtt/server#488, open):
		// it hung a test for 12 minutes. Stopping gives up waiting after
		// closeWait; the simulator is stopping anyway.
		done := make(chan struct{})
		go func() {
			srv.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeWait):
			log.Warn("embedded broker did not close (mochi-mqtt/server#488); going on", "waited", closeWait)
		}
	}, nil
}

// closeWait bounds how long stopping waits for the embedded broker.
const closeWait = 5 * time.Second
