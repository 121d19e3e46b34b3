package manpage

import (
	"strings"
	"testing"
)

func TestInline(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"`--config FILE` and **bold**", `\fB\-\-config FILE\fR and \fBbold\fR`},
		{`a \ backslash, "\e[2J" in code: ` + "`\"\\e[2J\"`", `a \e backslash, "\ee[2J" in code: \fB"\ee[2J"\fR`},
		{"[docs/protocol.md](protocol.md#x) — see … ≤ 5 → ok", `docs/protocol.md \(em see ... \(<= 5 \(-> ok`},
	} {
		if got := Inline(tc.in); got != tc.want {
			t.Errorf("Inline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Markdown's blocks become roff requests; no text line can be taken for
// a request.
func TestMarkdown(t *testing.T) {
	p := New("x", 5, "src", "man")
	p.Markdown(`# Title, left out

A paragraph
on two lines.

- an item
  continued
- another

    code block
    .starts with a dot

## Keys

| Key | Default | Meaning |
|---|---|---|
| ` + "`a.b`" + ` | ` + "`1`" + ` | What \| it does. |
`)
	got := p.String()
	for _, want := range []string{
		".TH \"X\" 5 \"\" \"src\" \"man\"\n",
		".PP\nA paragraph on two lines.\n",
		".IP \\(bu 2\nan item continued\n.IP \\(bu 2\nanother\n",
		".nf\ncode block\n\\&.starts with a dot\n.fi\n",
		".SH \"KEYS\"\n",
		".TP\n\\fBa.b\\fR (Default: \\fB1\\fR)\nWhat | it does.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Title, left out") {
		t.Errorf("the level-1 heading is in the page:\n%s", got)
	}
}
