package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file, located as precisely as
// the file allows.
type Problem struct {
	File    string
	Line    int    // 0 when the key is not in the file (a default or a missing key)
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
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w (copy the commented example agent.example.yaml to %s and edit it)", err, path)
	}
	return Parse(path, data)
}

// Parse is Load for a file already in memory; path names it in messages and
// anchors relative paths inside it.
func Parse(path string, data []byte) (*Config, []Problem, error) {
	cfg := Default()
	cfg.Path = path
	d := decoder{file: path, lines: map[string]int{}}
	d.decodeDocument(data, &cfg)
	if len(d.problems) == 0 {
		cfg.resolvePaths(filepath.Dir(path))
		for _, p := range cfg.validate() {
			p.File = path
			p.Line = d.lineOf(p.Key)
			d.problems = append(d.problems, p)
		}
	}
	// Warnings (a GPS receiver not plugged in yet) must not keep the
	// secrets from being read: the agent starts with warnings.
	if !hasErrors(d.problems) && cfg.SecretsFile != "" {
		sec, probs := loadSecrets(cfg.SecretsFile)
		for i := range probs {
			if probs[i].File == "" { // a problem with the file itself: blame the key
				probs[i].File, probs[i].Line, probs[i].Key = path, d.lineOf("secrets_file"), "secrets_file"
			}
		}
		d.problems = append(d.problems, probs...)
		cfg.Secrets = sec
	}
	if !hasErrors(d.problems) {
		for _, p := range cfg.checkSecrets() {
			p.File, p.Line = path, d.lineOf(p.Key)
			d.problems = append(d.problems, p)
		}
	}
	var errs Problems
	var warns []Problem
	for _, p := range d.problems {
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

func hasErrors(ps []Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// decoder walks a YAML node tree against a struct, so that each key keeps
// its line and each error its key; yaml.v3's own strict decoding stops at the
// first error and does not say which key a type error belongs to.
type decoder struct {
	file     string
	lines    map[string]int
	problems []Problem
}

func (d *decoder) add(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of key, or of its nearest parent present in the file.
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) decodeDocument(data []byte, out any) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			d.add(line, "", "not valid YAML: %s (check the indentation and quoting on or just above this line)", m[2])
		} else {
			d.add(0, "", "not valid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
		}
		return
	}
	if len(doc.Content) == 0 { // empty file: every required key will be reported missing
		return
	}
	d.decodeStruct(doc.Content[0], reflect.ValueOf(out).Elem(), "")
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, prefix string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "section:" with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			d.add(n.Line, "", "must be a mapping of keys to values, like the example config")
		} else {
			d.add(n.Line, name, "must be a section of keys (indented below %s:), not %s", lastPart(name), describe(n))
		}
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := prefix + kn.Value
		if first, dup := seen[kn.Value]; dup {
			d.add(kn.Line, key, "appears twice (first on line %d); keep one", first)
			continue
		}
		seen[kn.Value] = kn.Line
		idx, ok := fields[kn.Value]
		if !ok {
			d.add(kn.Line, key, "unknown key%s", suggest(kn.Value, fields, prefix))
			continue
		}
		d.lines[key] = kn.Line
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(Duration(0)) {
			d.decodeStruct(vn, fv, key+".")
			continue
		}
		if vn.Kind == yaml.SequenceNode {
			for j, item := range vn.Content {
				d.lines[fmt.Sprintf("%s[%d]", key, j)] = item.Line
			}
		}
		d.decodeValue(vn, fv, key)
	}
}

func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		var de durationError
		if errors.As(err, &de) {
			d.add(n.Line, key, "%s", de.Error())
			return
		}
		d.add(n.Line, key, "must be %s, not %s", wantOf(v.Type()), describe(n))
		return
	}
	v.Set(tmp.Elem())
}

func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

func wantOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(Duration(0)):
		return "a duration such as 30s, 5m or 1h30m"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Slice:
		return "a list (one \"- item\" per line, or [a, b])"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
}

func lastPart(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// suggest names the closest valid key (a typo or a different word order)
// and lists the valid ones.
func suggest(got string, fields map[string]int, prefix string) string {
	names := make([]string, 0, len(fields))
	best, bestDist := "", 3
	for name := range fields {
		names = append(names, name)
		lower := strings.ToLower(got)
		dist := editDistance(lower, name)
		if dist >= bestDist && len(name) >= 3 && (strings.HasPrefix(lower, name) || strings.HasPrefix(name, lower)) {
			dist = bestDist - 1 // "baudrate" for "baud"
		}
		if dist < bestDist {
			best, bestDist = name, dist
		}
	}
	sort.Strings(names)
	where := "here"
	if prefix != "" {
		where = "under " + strings.TrimSuffix(prefix, ".")
	}
	msg := "."
	if best != "" {
		msg = "; did you mean " + prefix + best + "?"
	}
	if strings.Contains(strings.ToLower(got), "password") || strings.Contains(strings.ToLower(got), "secret") {
		msg += " Passwords belong in the secrets file (secrets_file), readable only by the service."
	}
	return msg + " Valid keys " + where + ": " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// loadSecrets reads the secrets file, refusing one that others could read:
// a handset's broker password must not leak to every local user.
func loadSecrets(path string) (Secrets, []Problem) {
	var sec Secrets
	fi, err := os.Stat(path)
	if err != nil {
		return sec, []Problem{{Msg: fmt.Sprintf("cannot read the secrets file: %v", err)}}
	}
	if !fi.Mode().IsRegular() {
		return sec, []Problem{{Msg: fmt.Sprintf("%s is not a regular file", path)}}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return sec, []Problem{{Msg: fmt.Sprintf("%s has mode %04o: group or others can read or change it; run: chmod 600 %s", path, perm, path)}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return sec, []Problem{{Msg: fmt.Sprintf("cannot read the secrets file: %v", err)}}
	}
	d := decoder{file: path, lines: map[string]int{}}
	d.decodeDocument(bytes.TrimSpace(data), &sec)
	return sec, d.problems
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
	for _, p := range []*string{&c.SecretsFile, &c.StateDir, &c.RuntimeDir, &c.MQTT.TLS.CAFile, &c.MQTT.TLS.CertFile, &c.MQTT.TLS.KeyFile, &c.Platform.CAFile, &c.Board.BenchSocket} {
		if *p != "" && !filepath.IsAbs(*p) {
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
