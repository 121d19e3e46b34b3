package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
)

const statusUsage = `Usage: pttagent status [--json] [--config FILE | --socket PATH]
  Ask the running agent how it is doing: uplink, GPS, tracks, warnings.
  Root and members of the service's group (pttagent) may ask.
`

// statusCommand runs `pttagent status`.
func statusCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, statusUsage) }
	asJSON := fs.Bool("json", false, "print the agent's JSON (for scripts)")
	cfgPath := fs.String("config", config.DefaultPath, "the config the agent runs with (for its runtime_dir)")
	sock := fs.String("socket", "", "the status socket (default: runtime_dir/"+statussock.FileName+")")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	path := *sock
	if path == "" {
		path = statusSocket(*cfgPath)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	data, err := statussock.Fetch(ctx, path)
	if err != nil {
		return err
	}
	if *asJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(data), "", "  "); err != nil {
			return fmt.Errorf("status from %s: %w", path, err)
		}
		b.WriteByte('\n')
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return statussock.Render(stdout, data, time.Now())
}

// statusSocket finds the socket in the config's runtime_dir. A config this
// user cannot load (the secrets file is the service's alone) means the
// default runtime_dir, which is the packaged service's.
func statusSocket(cfgPath string) string {
	dir := config.Default().RuntimeDir
	if cfg, _, err := config.Load(cfgPath); err == nil {
		dir = cfg.RuntimeDir
	}
	return filepath.Join(dir, statussock.FileName)
}
