// Command pttfleet loads a broker (or a cluster) with a fleet of virtual
// handsets built from the agent's own uplink code, and reports what
// arrived: see internal/fleet and docs/fleet.md.
//
//	pttfleet -handsets 10000 -period 10s -talkers 50 -duration 5m -storm 2m
//	pttfleet -broker nats -handsets 3000 -storm 1m -storm-node 0
//	pttfleet -brokers tcp://10.0.0.1:1883 -handsets 500
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pttagent/pttagent/internal/fleet"
)

func main() {
	if os.Getenv(fleet.WorkerEnv) == "1" {
		os.Exit(fleet.WorkerMain())
	}
	if err := run(); err != nil {
		log.Fatal("pttfleet: ", err)
	}
}

func run() error {
	o := fleet.Defaults()
	var brokers, out string
	var verbose bool
	flag.IntVar(&o.Handsets, "handsets", o.Handsets, "virtual handsets")
	flag.DurationVar(&o.Period, "period", o.Period, "time between two track points of a handset")
	flag.IntVar(&o.Talkers, "talkers", o.Talkers, "handsets that talk (voice at the real packet rate)")
	flag.DurationVar(&o.TalkBurst, "talk-burst", o.TalkBurst, "length of a talk burst")
	flag.DurationVar(&o.TalkEvery, "talk-every", o.TalkEvery, "a talker's mean time between bursts")
	flag.IntVar(&o.GroupSize, "group-size", o.GroupSize, "handsets per talk group")
	flag.BoolVar(&o.Subscribe, "subscribe", o.Subscribe, "hold an agent's subscriptions (events, floor, group voice)")
	flag.DurationVar(&o.Duration, "duration", o.Duration, "steady run after every handset connected")
	flag.IntVar(&o.Ramp, "ramp", o.Ramp, "handsets started per second")
	flag.DurationVar(&o.Storm, "storm", 0, "this far into the steady run, restart the broker (or kill -storm-node of a cluster); 0: none")
	flag.DurationVar(&o.StormDown, "storm-down", o.StormDown, "how long the broker (node) stays down")
	flag.IntVar(&o.StormNode, "storm-node", 0, "cluster node to kill (0-based)")
	flag.DurationVar(&o.Drain, "drain", o.Drain, "longest wait for the last points after the run")
	flag.StringVar(&brokers, "brokers", "", "comma-separated broker `URLs` to load (default: start -broker)")
	flag.StringVar(&o.Broker, "broker", o.Broker, "broker to start: mosquitto or nats (a 3-node cluster)")
	flag.IntVar(&o.Sims, "pttsim", 0, "also run this many platform simulators taking the tracks (a shared subscription when > 1) and report whether they keep up")
	flag.StringVar(&o.NATSMQTT, "nats-mqtt", "", "settings added to the started NATS nodes' mqtt {} block")
	flag.BoolVar(&o.Spread, "spread", o.Spread, "start each handset's broker list at another node")
	flag.DurationVar(&o.KeepAlive, "keepalive", o.KeepAlive, "MQTT keep-alive (the agent's mqtt.keepalive)")
	flag.DurationVar(&o.ReconnectMin, "reconnect-min", o.ReconnectMin, "the agent's mqtt.reconnect_min")
	flag.DurationVar(&o.ReconnectMax, "reconnect-max", o.ReconnectMax, "the agent's mqtt.reconnect_max")
	flag.DurationVar(&o.AckTimeout, "ack-timeout", o.AckTimeout, "the agent's mqtt.ack_timeout")
	flag.StringVar(&o.Dir, "dir", "", "directory for the queues (default: a new one in /dev/shm, removed after)")
	flag.IntVar(&o.Procs, "procs", 0, "processes to run the handsets in (0: as the open-file limit needs, 3 files a handset)")
	flag.StringVar(&out, "json", "", "also write the report as JSON to this `file`")
	flag.BoolVar(&verbose, "v", false, "log the handsets' warnings too")
	flag.Parse()
	if brokers != "" {
		o.Brokers = strings.Split(brokers, ",")
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if verbose {
		o.Verbose = true
		o.HandsetLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := fleet.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Print(r)
	if out != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return err
		}
	}
	if r.Lost > 0 {
		return fmt.Errorf("%d points lost", r.Lost)
	}
	return nil
}
