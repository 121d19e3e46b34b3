package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Int is a whole number as the platforms send it: 105, "105", 105.0 or
// null (0). The corp seed sends errcode sometimes as a string, and the wapi
// seed says every value travels as a string while its examples show
// numbers. Anything else (true, "abc", 1.5, an object) is an error, so a
// field of the wrong type fails the whole answer instead of becoming 0.
type Int int64

func (i *Int) UnmarshalJSON(b []byte) error {
	text, _, null, err := scalar(b)
	if err != nil {
		return err
	}
	if null || len(text) == 0 {
		*i = 0
		return nil
	}
	if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
		*i = Int(n)
		return nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("not a whole number: %.40s", text)
	}
	*i = Int(f)
	return nil
}

// scalar returns the text of a JSON value: a string's contents (quoted
// true), or the literal as it stands; null reports JSON null. The platforms
// send numbers as strings and strings as numbers, so each lenient type
// starts here.
func scalar(b []byte) (text []byte, quoted, null bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil, false, true, nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, false, false, err
		}
		return []byte(s), true, false, nil
	}
	return b, false, false, nil
}

// Float is a number that may arrive as a string.
type Float float64

func (f *Float) UnmarshalJSON(b []byte) error {
	text, _, null, err := scalar(b)
	if err != nil {
		return err
	}
	if null {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40s", text)
	}
	*f = Float(v)
	return nil
}

// YN is the wapi seed's "Y"/"N" flag (callPermission, canSpeak). Absent
// means yes: a platform that does not send the flag does not restrict.
type YN string

// Yes reports whether the flag grants the right.
func (y YN) Yes() bool { return y != "N" && y != "n" }

// Str is text that may arrive as a number (wapi ids in orgUser/tree come as
// "103").
type Str string

func (s *Str) UnmarshalJSON(b []byte) error {
	text, quoted, null, err := scalar(b)
	switch {
	case err != nil:
		return err
	case null:
		*s = ""
		return nil
	case !quoted:
		if _, err := strconv.ParseFloat(string(text), 64); err != nil {
			return fmt.Errorf("not text: %.40s", text)
		}
	}
	*s = Str(text)
	return nil
}
