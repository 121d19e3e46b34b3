// Package manpage writes manual pages (man(7) roff) from the texts the
// project already keeps: the command table behind `pttagent --help` and
// the Markdown of docs/config.md. One source each, so the manual cannot
// drift from the help or the reference: cmd/pttagent's tests generate the
// pages and fail when the shipped ones differ.
//
// It knows the Markdown the docs use and no more: headings, paragraphs,
// "- " lists, code blocks indented by four spaces, pipe tables, `code`,
// **bold** and [links](…).
package manpage

import (
	"fmt"
	"regexp"
	"strings"
)

// Page is a manual page being written.
type Page struct {
	b strings.Builder
}

// New starts a page: its name, section, and the footer's source and
// manual titles.
func New(name string, section int, source, manual string) *Page {
	p := &Page{}
	fmt.Fprintf(&p.b, ".\\\" Generated from the sources of pttagent; do not edit (make man).\n")
	fmt.Fprintf(&p.b, ".TH %s %d \"\" %s %s\n", quoteArg(strings.ToUpper(name)), section, quoteArg(source), quoteArg(manual))
	return p
}

// String is the page's roff.
func (p *Page) String() string { return p.b.String() }

// Section starts a section (.SH), its title upper case as man pages have it.
func (p *Page) Section(title string) {
	fmt.Fprintf(&p.b, ".SH %s\n", quoteArg(strings.ToUpper(title)))
}

// Subsection starts a subsection (.SS).
func (p *Page) Subsection(title string) {
	fmt.Fprintf(&p.b, ".SS %s\n", quoteArg(Inline(title)))
}

// Name writes the NAME section: "name \- what it is".
func (p *Page) Name(name, what string) {
	p.Section("name")
	fmt.Fprintf(&p.b, "%s \\- %s\n", escape(name), Inline(what))
}

// Paragraph writes text (Markdown inline) as a paragraph.
func (p *Page) Paragraph(text string) {
	fmt.Fprintf(&p.b, ".PP\n%s\n", lines(Inline(text)))
}

// Literal writes lines as they are, in a block set off from the text.
func (p *Page) Literal(ls []string) {
	p.b.WriteString(".PP\n.RS 4\n.nf\n")
	for _, l := range ls {
		p.b.WriteString(lineStart(escape(l)) + "\n")
	}
	p.b.WriteString(".fi\n.RE\n")
}

// Tagged writes a tagged paragraph (.TP): the tag on its own line (roff
// already), the body indented under it.
func (p *Page) Tagged(tagRoff, body string) {
	fmt.Fprintf(&p.b, ".TP\n%s\n%s\n", lineStart(tagRoff), lines(Inline(body)))
}

// Bullet writes a list item.
func (p *Page) Bullet(text string) {
	fmt.Fprintf(&p.b, ".IP \\(bu 2\n%s\n", lines(Inline(text)))
}

// Raw appends roff as it is.
func (p *Page) Raw(roff string) { p.b.WriteString(roff) }

// Markdown writes a Markdown document's blocks. Level-2 headings become
// sections, level-3 subsections; a level-1 heading is left out (the page
// has its own title). A table becomes one tagged paragraph per row: the
// first cell is the tag, the middle cells follow it as "Header: value",
// the last is the body.
func (p *Page) Markdown(md string) {
	ls := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	for i := 0; i < len(ls); {
		l := ls[i]
		switch {
		case strings.TrimSpace(l) == "":
			i++
		case strings.HasPrefix(l, "# "):
			i++
		case strings.HasPrefix(l, "## "):
			p.Section(strings.TrimPrefix(l, "## "))
			i++
		case strings.HasPrefix(l, "### "):
			p.Subsection(strings.TrimPrefix(l, "### "))
			i++
		case strings.HasPrefix(l, "    "):
			var block []string
			for ; i < len(ls) && (strings.HasPrefix(ls[i], "    ") || (strings.TrimSpace(ls[i]) == "" && i+1 < len(ls) && strings.HasPrefix(ls[i+1], "    "))); i++ {
				block = append(block, strings.TrimPrefix(ls[i], "    "))
			}
			p.Literal(block)
		case strings.HasPrefix(l, "|"):
			var rows [][]string
			for ; i < len(ls) && strings.HasPrefix(ls[i], "|"); i++ {
				rows = append(rows, cells(ls[i]))
			}
			p.table(rows)
		case strings.HasPrefix(l, "- "):
			for i < len(ls) && strings.HasPrefix(ls[i], "- ") {
				item := strings.TrimPrefix(ls[i], "- ")
				for i++; i < len(ls) && strings.HasPrefix(ls[i], "  ") && strings.TrimSpace(ls[i]) != ""; i++ {
					item += " " + strings.TrimSpace(ls[i])
				}
				p.Bullet(item)
			}
		default:
			var para []string
			for ; i < len(ls) && strings.TrimSpace(ls[i]) != "" && !isBlockStart(ls[i]); i++ {
				para = append(para, strings.TrimSpace(ls[i]))
			}
			p.Paragraph(strings.Join(para, " "))
		}
	}
}

func isBlockStart(l string) bool {
	return strings.HasPrefix(l, "#") || strings.HasPrefix(l, "|") || strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "    ")
}

var separatorRow = regexp.MustCompile(`^[\s|:-]+$`)

func (p *Page) table(rows [][]string) {
	if len(rows) < 2 || !separatorRow.MatchString(strings.Join(rows[1], "|")) {
		for _, r := range rows {
			p.Paragraph(strings.Join(r, " "))
		}
		return
	}
	head := rows[0]
	for _, r := range rows[2:] {
		if len(r) == 0 {
			continue
		}
		tag := Inline(r[0])
		var mid []string
		for j := 1; j < len(r)-1 && j < len(head); j++ {
			mid = append(mid, Inline(head[j])+": "+Inline(r[j]))
		}
		if len(mid) > 0 {
			tag += " (" + strings.Join(mid, "; ") + ")"
		}
		body := ""
		if len(r) > 1 {
			body = r[len(r)-1]
		}
		fmt.Fprintf(&p.b, ".TP\n%s\n%s\n", lineStart(tag), lines(Inline(body)))
	}
}

// cells splits a table row; "\|" is a pipe inside a cell.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(strings.TrimSuffix(row, "|"), "|")
	row = strings.ReplaceAll(row, `\|`, "\x00")
	var out []string
	for _, c := range strings.Split(row, "|") {
		out = append(out, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
	}
	return out
}

var (
	codeSpan = regexp.MustCompile("`([^`]*)`")
	boldSpan = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	link     = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)
)

// Inline turns Markdown inline markup into roff: `code` and **bold** in
// bold, links as their text; everything else escaped.
func Inline(s string) string {
	s = link.ReplaceAllString(s, "$1")
	var out strings.Builder
	for len(s) > 0 {
		loc := codeSpan.FindStringSubmatchIndex(s)
		if loc == nil {
			out.WriteString(bold(escape(s)))
			break
		}
		out.WriteString(bold(escape(s[:loc[0]])))
		out.WriteString(`\fB` + codeEscape(s[loc[2]:loc[3]]) + `\fR`)
		s = s[loc[1]:]
	}
	return out.String()
}

func bold(roff string) string { return boldSpan.ReplaceAllString(roff, `\fB$1\fR`) }

// Characters groff knows by name: input stays ASCII where it can.
var named = strings.NewReplacer(
	"—", `\(em`, "–", `\(en`, "…", "...", "→", `\(->`, "←", `\(<-`, "≤", `\(<=`, "≥", `\(>=`,
	"≈", `\(~~`, "±", `\(+-`, "×", `\(mu`, "°", `\(de`, "“", `\(lq`, "”", `\(rq`, "‘", `\(oq`, "’", `\(cq`,
	"µ", `\(mc`, "·", `\(pc`, "−", `\-`, "\u00a0", `\ `,
)

// escape makes text safe for roff: a backslash is printed, not obeyed.
func escape(s string) string {
	return named.Replace(strings.ReplaceAll(s, `\`, `\e`))
}

// codeEscape is escape for literal text: options and paths keep their
// ASCII hyphens (\-), which man renders as the minus a shell needs.
func codeEscape(s string) string {
	return strings.ReplaceAll(escape(s), "-", `\-`)
}

// lineStart keeps a line that starts with a control character (. or ')
// from being taken for a request.
func lineStart(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// lines breaks roff text so that no line starts with a control character.
func lines(s string) string {
	out := strings.Split(s, "\n")
	for i, l := range out {
		out[i] = lineStart(l)
	}
	return strings.Join(out, "\n")
}

func quoteArg(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\(dq`) + `"` }

// Option is a command-line option written as man pages do: bold name, an
// italic argument.
func Option(name, arg string) string {
	s := `\fB` + codeEscape(name) + `\fR`
	if arg != "" {
		s += ` \fI` + escape(arg) + `\fR`
	}
	return s
}

// Code is text in bold, escaped as a command or path.
func Code(s string) string { return `\fB` + codeEscape(s) + `\fR` }
