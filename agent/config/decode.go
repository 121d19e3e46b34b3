package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxText bounds one text value: the longest real one is a path or a URL;
// a longer one would only flood the logs and the status output.
const maxText = 4096

// maxListItems bounds a list (mqtt.brokers), tried in turn on every
// reconnection.
const maxListItems = 16

// decoder walks a YAML node tree against a struct, so that each key keeps
// its line and each error its key; yaml.v3's own strict decoding stops at the
// first error and does not say which key a type error belongs to.
type decoder struct {
	file     string
	lines    map[string]int
	bad      map[string]bool // keys whose value could not be decoded
	problems []Problem
	dropped  int // problems past maxProblems, counted only
	// anyText lets text values hold control characters (a password may
	// hold a tab); they are never shown.
	anyText bool
	// notMapping: the file is not a mapping of keys, so every key is
	// missing; saying so for each one would bury the one real problem.
	notMapping bool
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[string]int{}, bad: map[string]bool{}}
}

// maxProblems bounds the problems kept of one file: a hostile file can
// hold a mistake on each of its lines, and the first hundred say enough.
const maxProblems = 100

func (d *decoder) add(line int, key, format string, args ...any) {
	if len(d.problems) >= maxProblems {
		d.dropped++
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

const moreNote = "… and %d more problems"

func isMoreNote(p Problem) bool {
	var n int
	_, err := fmt.Sscanf(p.Msg, moreNote, &n)
	return err == nil && p.Line == 0 && p.Key == ""
}

// refuse is add for a value that could not be decoded: its key keeps the
// default, which hides further complaints about it.
func (d *decoder) refuse(line int, key, format string, args ...any) {
	d.bad[key] = true
	d.add(line, key, format, args...)
}

// more is the note that problems were left out, if any were.
func (d *decoder) more() []Problem {
	if d.dropped == 0 {
		return nil
	}
	return []Problem{{File: d.file, Msg: fmt.Sprintf(moreNote, d.dropped)}}
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

// hides reports whether key is, is inside or holds a key whose value was
// refused: that value is then the default, and a complaint about it
// would only repeat the first one.
func (d *decoder) hides(key string) bool {
	if d.notMapping {
		return true
	}
	for k := range d.bad {
		if key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[") ||
			strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			return true
		}
	}
	return false
}

// decodeFile decodes data into out. It returns false when the file could
// not be read as YAML at all: nothing in out is then from the file.
func (d *decoder) decodeFile(data []byte, out any) bool {
	if ps := scanText(d.file, data); len(ps) > 0 {
		d.problems = append(d.problems, ps...)
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty: every required key is reported missing
		return true
	case err != nil:
		d.syntax(data, err)
		return false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(data, err)
		return false
	case len(next.Content) > 0 && next.Content[0].Tag != "!!null":
		d.add(next.Line, "", "a second YAML document starts here, and the agent reads only the first: "+
			"remove this line and merge or delete what follows")
	}
	if len(doc.Content) > 0 {
		d.decodeStruct(doc.Content[0], reflect.ValueOf(out).Elem(), "")
	}
	return true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax reports a YAML syntax error. Tabs in the indentation are the
// usual cause and yaml.v3 does not name them, so those lines are reported
// instead; an error yaml.v3 gives without a line is placed by parsing ever
// shorter beginnings of the file.
func (d *decoder) syntax(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserErrors[msg] {
			// yaml.v3 counts the parser's lines from 0, the scanner's
			// from 1; at the end of the file the parser's is one past it.
			line = min(line+1, lineCount(data))
		}
	} else {
		line = errorLine(data, err.Error())
	}
	tabs := tabIndented(data)
	for _, l := range tabs {
		d.add(l, "", "tabs are not allowed for indentation, use spaces")
	}
	if len(tabs) > 0 && (strings.Contains(msg, "tab") || contains(tabs, line)) {
		return
	}
	d.add(line, "", "not valid YAML: %s (check the indentation and quoting on or just above this line)", msg)
}

// lineCount is the number of lines in data, a last one without a line
// end included.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) == 0 || data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// parserErrors are the messages of yaml.v3's parser (parserc.go); the
// others are its scanner's.
var parserErrors = map[string]bool{
	"did not find expected <stream-start>": true, "did not find expected <document start>": true,
	"did not find expected node content": true, "did not find expected key": true,
	"did not find expected '-' indicator": true, "did not find expected ',' or ']'": true,
	"did not find expected ',' or '}'": true, "found duplicate %YAML directive": true,
	"found incompatible YAML document": true, "found undefined tag handle": true,
	"found duplicate %TAG directive": true,
}

// errorLine finds the first line whose end brings up the error msg, by
// bisection over the beginnings of data.
func errorLine(data []byte, msg string) int {
	ends := []int{} // ends[i]: offset just past line i+1
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		var doc yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[n-1]]))
		for {
			err := dec.Decode(&doc)
			if err == nil {
				continue
			}
			return err.Error() == msg
		}
	}
	n := sort.Search(len(ends), func(i int) bool { return fails(i + 1) })
	if n == len(ends) {
		return 1
	}
	return n + 1
}

// scanText finds what yaml.v3 rejects without saying where: a file that
// is not UTF-8 and control characters. One problem per line.
func scanText(file string, data []byte) []Problem {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return []Problem{{File: file, Line: 1, Msg: "the file is UTF-16; save it as UTF-8"}}
	}
	var ps []Problem
	line, reported := 1, 0
	report := func(format string, args ...any) {
		if reported != line && len(ps) < maxProblems {
			ps = append(ps, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
			reported = line
		}
	}
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '\n' || c == '\r' && (i+1 == len(data) || data[i+1] != '\n'): // LF, CRLF and CR alone end a line
			line++
			i++
			continue
		case c == '\t' || c == '\r':
		case c == 0:
			report("control character 0x00 (NUL): a config is plain text; remove it")
		case c < 0x20 || c == 0x7f:
			report("control character 0x%02x: a config is plain text; remove it", c)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			switch {
			case r == utf8.RuneError && size <= 1:
				report("byte 0x%02x is not UTF-8: save the file as UTF-8 (an editor set to Latin-1 or Windows-1252 writes such bytes)", c)
			case r >= 0x80 && r <= 0x9f && r != 0x85:
				report("control character U+%04X: a config is plain text; remove it", r)
			case r == 0xfeff && i > 0:
				report("byte-order mark (U+FEFF) inside the file; remove it")
			}
			i += size
			continue
		}
		i++
	}
	return ps
}

// tabIndented lists the lines whose indentation holds a tab.
func tabIndented(data []byte) []int {
	var lines []int
	for i, l := range bytes.Split(data, []byte("\n")) {
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			lines = append(lines, i+1)
		}
	}
	return lines
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, prefix string) {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "section:" with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			d.add(n.Line, "", "must be a mapping of keys to values, like the example config")
			d.notMapping = true
		} else {
			d.refuse(n.Line, name, "must be a section of keys (indented below %s:), not %s", lastPart(name), describe(n))
		}
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := prefix + kn.Value
		if kn.Tag == "!!merge" {
			d.add(kn.Line, key, "YAML merge keys are not supported; write the keys out")
			continue
		}
		if first, dup := seen[kn.Value]; dup {
			d.add(kn.Line, key, "appears twice (first on line %d); keep one", first)
			continue
		}
		seen[kn.Value] = kn.Line
		idx, ok := fields[kn.Value]
		if !ok || kn.Kind != yaml.ScalarNode {
			if len(d.problems) < maxProblems {
				d.add(kn.Line, key, "unknown key%s", suggest(kn.Value, fields, prefix))
			} else {
				d.dropped++
			}
			continue
		}
		d.lines[key] = kn.Line
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(Duration(0)) {
			d.decodeStruct(vn, fv, key+".")
			continue
		}
		if r := resolveAlias(vn); r.Kind == yaml.SequenceNode {
			if len(r.Content) > maxListItems {
				d.refuse(vn.Line, key, "%d items; at most %d", len(r.Content), maxListItems)
				continue
			}
			for j, item := range r.Content {
				d.lines[fmt.Sprintf("%s[%d]", key, j)] = item.Line
			}
		}
		d.decodeValue(vn, fv, key)
	}
}

func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, key string) {
	r := resolveAlias(n)
	if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	if v.Kind() == reflect.Int {
		d.decodeInt(n, r, v, key)
		return
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		var de durationError
		switch {
		case errors.As(err, &de):
			d.refuse(n.Line, key, "%s", de.Error())
		case v.Kind() == reflect.Slice && r.Kind == yaml.SequenceNode:
			d.refuse(n.Line, key, "must be a list of text: one \"- item\" per line, each a single value")
		default:
			d.refuse(n.Line, key, "must be %s, not %s", wantOf(v.Type()), describe(r))
		}
		return
	}
	switch x := tmp.Elem().Interface().(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			d.refuse(n.Line, key, "must be a finite number, not %s", describe(r))
			return
		}
	case string:
		if !d.checkText(n.Line, key, x) {
			return
		}
	case []string:
		for i, item := range r.Content {
			if resolveAlias(item).Tag == "!!null" {
				d.refuse(item.Line, fmt.Sprintf("%s[%d]", key, i), "is empty; write a value or remove the \"-\"")
				return
			}
		}
		for i, s := range x {
			if !d.checkText(r.Content[i].Line, fmt.Sprintf("%s[%d]", key, i), s) {
				return
			}
		}
	}
	v.Set(tmp.Elem())
}

// decodeInt takes a whole number only: yaml.v3 truncates 1.9 to 1.
func (d *decoder) decodeInt(n, r *yaml.Node, v reflect.Value, key string) {
	if r.Kind != yaml.ScalarNode {
		d.refuse(n.Line, key, "must be a whole number, not %s", describe(r))
		return
	}
	switch r.Tag {
	case "!!int":
		var i int
		if err := r.Decode(&i); err != nil {
			d.refuse(n.Line, key, "%s is too large", r.Value)
			return
		}
		v.SetInt(int64(i))
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(r.Value, "_", ""), 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(f), math.IsInf(f, 0) && err == nil, f != math.Trunc(f):
			d.refuse(n.Line, key, "must be a whole number, not %s", describe(r))
		case math.Abs(f) >= 1<<62:
			d.refuse(n.Line, key, "%s is too large", r.Value)
		default:
			v.SetInt(int64(f))
		}
	default:
		d.refuse(n.Line, key, "must be a whole number, not %s", describe(r))
	}
}

func (d *decoder) checkText(line int, key, s string) bool {
	if len(s) > maxText {
		d.refuse(line, key, "is %d bytes long; at most %d", len(s), maxText)
		return false
	}
	if d.anyText {
		return true
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c >= 0x80 && c <= 0x9f {
			d.refuse(line, key, "must not contain control characters (0x%02x)", c)
			return false
		}
	}
	return true
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
	if len(a) > 64 { // a key that long is no typo, and the table grows with it
		return len(a)
	}
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
