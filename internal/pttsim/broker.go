package pttsim

import (
	"fmt"
	"log/slog"

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
	return func() { srv.Close() }, nil
}
