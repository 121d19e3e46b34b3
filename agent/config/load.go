package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/internal/regular"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file, located as precisely as
// the file allows.
type Problem struct {
	File    string
	Line    int    // 0 when the key is not in the file (a default or a missing key), or for the file as a whole (its size)
	Key     string // dotted path, e.g. "gps.baud"; "" for the file as a whole
	Msg     string // what is wrong and what would be valid
	Warning bool   // the agent still starts
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every error found in a config; it is the error Load returns
// when the config must not be used.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, checks and completes the config at path. On success it returns
// the config and any warnings. On failure err is a Problems listing every
// error (with the warnings too), or an I/O error when the file cannot be read.
func Load(path string) (*Config, []Problem, error) {
	data, err := readRegular(path, MaxFileSize)
	var re *regular.Error
	switch {
	case errors.As(err, &re) && errors.Is(err, regular.ErrTooLarge):
		return nil, nil, Problems{tooLarge(path, re.Size)}
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("read config: %w (start from the commented example: cp %s %s, then edit it)", err, ExampleConfig, path)
	case err != nil:
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

func tooLarge(path string, size int64) Problem {
	return Problem{File: path, Msg: fmt.Sprintf("is %d bytes; a config is a few kilobytes, and at most %d bytes are read: is this the right file?", size, MaxFileSize)}
}

// Parse is Load for a file already in memory; path names it in messages and
// anchors relative paths inside it.
func Parse(path string, data []byte) (*Config, []Problem, error) {
	return parse(path, data, true)
}

// parse is Parse; probe false leaves the file system alone (no directory
// is made to see whether it can be), for the fuzz target.
//
// Every problem is reported at once: an unknown key does not stop the
// values from being checked, nor the secrets file from being read.
// Values whose key was refused keep their defaults and are not
// complained about again.
func parse(path string, data []byte, probe bool) (*Config, []Problem, error) {
	if len(data) > MaxFileSize {
		return nil, nil, Problems{tooLarge(path, int64(len(data)))}
	}
	cfg := Default()
	cfg.Path = path
	d := newDecoder(path)
	var more []Problem // the secrets file's, after the config's
	if d.decodeFile(data, &cfg) {
		cfg.resolvePaths(filepath.Dir(path))
		for _, p := range cfg.validate(probe) {
			if !d.hides(p.Key) {
				p.File, p.Line = path, d.lineOf(p.Key)
				d.problems = append(d.problems, p)
			}
		}
		secretsRead := true
		if cfg.SecretsFile != "" && !d.bad["secrets_file"] {
			sec, probs, ok := loadSecrets(cfg.SecretsFile)
			for _, p := range probs {
				if p.File == "" { // a problem with the file itself: blame the key
					p.File, p.Line, p.Key = path, d.lineOf("secrets_file"), "secrets_file"
					d.problems = append(d.problems, p)
				} else {
					more = append(more, p)
				}
			}
			cfg.Secrets, secretsRead = sec, ok
		}
		if secretsRead {
			for _, p := range cfg.checkSecrets() {
				if !d.hides(p.Key) {
					p.File, p.Line = path, d.lineOf(p.Key)
					d.problems = append(d.problems, p)
				}
			}
		}
	}
	all := append(d.problems, more...)
	all = append(all, d.more()...)
	// By file (the config first), then by line, the note of problems
	// left out last; stable, so the problems of one line stay in the order
	// they were found.
	sort.SliceStable(all, func(i, j int) bool {
		if fi, fj := all[i].File != path, all[j].File != path; fi != fj {
			return !fi
		}
		if mi, mj := isMoreNote(all[i]), isMoreNote(all[j]); mi != mj {
			return !mi
		}
		return all[i].Line < all[j].Line
	})
	var errs Problems
	var warns []Problem
	for _, p := range all {
		if p.Warning {
			warns = append(warns, p)
		} else {
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return nil, warns, append(errs, warns...)
	}
	return &cfg, warns, nil
}

// Duration is a time.Duration written as "30s", "5m", "1h30m" in the file.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

type durationError struct{ msg string }

func (e durationError) Error() string { return e.msg }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return durationError{"must be a duration such as 30s, 5m or 1h30m, not " + describe(n)}
	}
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
		return durationError{fmt.Sprintf("%q has no unit; write %ss (seconds), %sm (minutes) or %sms", n.Value, n.Value, n.Value, n.Value)}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return durationError{fmt.Sprintf("%q is not a duration; write it like 30s, 5m or 1h30m", n.Value)}
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// resolvePaths anchors relative file names at the config file's directory,
// so a config and its certificates can be moved together.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.SecretsFile, &c.StateDir, &c.RuntimeDir, &c.GPS.Device, &c.GPS.Modem.Control, &c.MQTT.TLS.CAFile, &c.MQTT.TLS.CertFile,
		&c.MQTT.TLS.KeyFile, &c.Platform.CAFile, &c.Board.InputDevice, &c.Board.BenchSocket} {
		if *p != "" && !filepath.IsAbs(*p) && !gps.IsGpsd(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Keys lists every key of the config file (dotted), and of the secrets
// file, in declaration order: the documentation test walks it.
func Keys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			ft := t.Field(i).Type
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration(0)) {
				walk(ft, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	walk(reflect.TypeOf(Secrets{}), "")
	return keys
}
