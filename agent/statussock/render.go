package statussock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os/user"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Render writes the status JSON for a human. It knows nothing of the
// status's fields beyond a few conventions, so sections that other parts
// of the agent add (sync, floor, battery, …) appear without changes here:
//
//   - "verdict" (agent.Status.Summary) is the first line on its own;
//   - other top-level scalars form the header (version, device, name, started);
//   - each top-level object is a section, its keys in the daemon's order;
//   - "warnings" (a list of {name, detail, since, hint}) is the last
//     section, each hint on a line of its own under its warning;
//   - RFC 3339 times show their age, the zero time shows "never";
//   - keys ending in "_s" are seconds; a negative value means "never".
//
// Every key and string is escaped where a terminal would act on it
// (control characters, bidirectional overrides): group names, a revoke's
// cause and error texts come from the platform and the network.
func Render(w io.Writer, data []byte, now time.Time) error {
	v, err := decodeOrdered(data)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	top, ok := v.(object)
	if !ok {
		return fmt.Errorf("status: not a JSON object")
	}
	r := renderer{now: now}
	var warnings any
	var header []string
	if v, ok := top.get("verdict").(string); ok {
		r.printf("%s\n\n", escape(v))
	}
	for _, f := range top {
		if f.key == "verdict" {
			continue
		}
		switch f.val.(type) {
		case object:
		case []any:
			if f.key == "warnings" {
				warnings = f.val
				continue
			}
		default:
			header = append(header, label(f.key)+": "+r.scalar(f.key, f.val))
			continue
		}
	}
	if len(header) > 0 {
		r.printf("%s\n", strings.Join(header, ", "))
	}
	for _, f := range top {
		switch f.val.(type) {
		case object, []any:
			if f.key == "warnings" {
				continue
			}
			r.printf("\n%s\n", title(f.key))
			r.value(f.key, f.val, "  ")
		}
	}
	r.printf("\nWarnings\n")
	ws, _ := warnings.([]any)
	if len(ws) == 0 {
		r.printf("  none\n")
	}
	for _, item := range ws {
		o, ok := item.(object)
		if !ok {
			r.printf("  ! %s\n", r.scalar("", item))
			continue
		}
		name, detail, since := escape(o.str("name")), escape(o.str("detail")), o.get("since")
		line := "  ! " + name
		if detail != "" {
			line += ": " + detail
		}
		if since != nil {
			line += " (since " + r.scalar("since", since) + ")"
		}
		r.printf("%s\n", line)
		if hint := o.str("hint"); hint != "" {
			r.printf("    → %s\n", escape(hint))
		}
	}
	_, err = w.Write(r.buf.Bytes())
	return err
}

type renderer struct {
	buf bytes.Buffer
	now time.Time
}

func (r *renderer) printf(format string, args ...any) { fmt.Fprintf(&r.buf, format, args...) }

// value prints the fields of an object (or the items of a list) at indent.
func (r *renderer) value(key string, v any, indent string) {
	switch v := v.(type) {
	case object:
		if len(v) == 0 {
			r.printf("%s(none)\n", indent)
		}
		for _, f := range v {
			switch f.val.(type) {
			case object:
				r.printf("%s%s:\n", indent, label(f.key))
				r.value(f.key, f.val, indent+"  ")
			case []any:
				if s, ok := r.flatList(f.key, f.val.([]any)); ok {
					r.printf("%s%s: %s\n", indent, label(f.key), s)
					continue
				}
				r.printf("%s%s:\n", indent, label(f.key))
				r.value(f.key, f.val, indent+"  ")
			default:
				r.printf("%s%s: %s\n", indent, label(f.key), r.scalar(f.key, f.val))
			}
		}
	case []any:
		if s, ok := r.flatList(key, v); ok {
			r.printf("%s%s\n", indent, s)
			return
		}
		for _, item := range v {
			if o, ok := item.(object); ok {
				parts := make([]string, 0, len(o))
				for _, f := range o {
					parts = append(parts, label(f.key)+"="+r.inline(f.key, f.val))
				}
				r.printf("%s- %s\n", indent, strings.Join(parts, ", "))
				continue
			}
			r.printf("%s- %s\n", indent, r.inline(key, item))
		}
	default:
		r.printf("%s%s\n", indent, r.scalar(key, v))
	}
}

// flatList renders a list of scalars on one line.
func (r *renderer) flatList(key string, l []any) (string, bool) {
	parts := make([]string, 0, len(l))
	for _, item := range l {
		switch item.(type) {
		case object, []any:
			return "", false
		}
		parts = append(parts, r.scalar(key, item))
	}
	if len(parts) == 0 {
		return "(none)", true
	}
	return strings.Join(parts, ", "), true
}

// inline renders any value on one line (nested values as compact JSON).
func (r *renderer) inline(key string, v any) string {
	switch v.(type) {
	case object, []any:
		b, _ := json.Marshal(toPlain(v))
		return escape(string(b))
	}
	return r.scalar(key, v)
}

func (r *renderer) scalar(key string, v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case json.Number:
		if strings.HasSuffix(key, "_s") {
			f, err := v.Float64()
			if err != nil {
				return v.String()
			}
			if f < 0 {
				return "never"
			}
			return seconds(f)
		}
		return v.String()
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && len(v) >= 20 {
			if t.IsZero() || t.Year() <= 1 {
				return "never"
			}
			return t.Local().Format("2006-01-02 15:04:05") + " (" + ago(r.now.Sub(t)) + ")"
		}
		if v == "" {
			return `""`
		}
		return escape(v)
	}
	return fmt.Sprint(v)
}

func seconds(f float64) string {
	d := time.Duration(f * float64(time.Second))
	switch {
	case f < 10:
		return strconv.FormatFloat(f, 'f', 1, 64) + " s"
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func ago(d time.Duration) string {
	if d < 0 {
		return "in the future: check the clock"
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Hour:
		return d.Truncate(time.Second).String() + " ago"
	case d < 48*time.Hour:
		return d.Truncate(time.Minute).String() + " ago"
	}
	return strconv.Itoa(int(math.Floor(d.Hours()/24))) + " days ago"
}

// known section titles; others are the key with its first letter raised.
var titles = map[string]string{"gps": "GPS", "uplink": "Uplink", "tracks": "Tracks", "ptt": "Push-to-talk", "tts": "TTS"}

func title(key string) string {
	if t, ok := titles[key]; ok {
		return t
	}
	l := label(key)
	if l == "" {
		return l
	}
	rs := []rune(l)
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

// label makes a JSON key readable: "last_fix_age_s" → "last fix age".
func label(key string) string {
	key = strings.TrimSuffix(key, "_s")
	return escape(strings.ReplaceAll(key, "_", " "))
}

// escape writes what a terminal would act on as Go escapes (\x1b, \u202e)
// and leaves everything else, other scripts included, as it is.
func escape(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

// object is a JSON object with its keys in the order the daemon sent them.
type object []field

type field struct {
	key string
	val any
}

func (o object) get(key string) any {
	for _, f := range o {
		if f.key == key {
			return f.val
		}
	}
	return nil
}

func (o object) str(key string) string {
	s, _ := o.get(key).(string)
	return s
}

func decodeOrdered(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON document")
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		var o object
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			o = append(o, field{key: kt.(string), val: v})
		}
		_, err := d.Token() // '}'
		return o, err
	case json.Delim('['):
		l := []any{}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := d.Token() // ']'
		return l, err
	}
	return t, nil
}

// toPlain turns ordered objects back into maps for compact JSON output.
func toPlain(v any) any {
	switch v := v.(type) {
	case object:
		m := make(map[string]any, len(v))
		for _, f := range v {
			m[f.key] = toPlain(f.val)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toPlain(x)
		}
		return out
	}
	return v
}
