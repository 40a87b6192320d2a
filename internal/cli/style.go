package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/internal/treeview"
	"golang.org/x/term"
)

// Color is an ANSI SGR sequence.
type Color string

// The colours and weights text is painted with.
const (
	Reset   Color = "\x1b[0m"
	Bold    Color = "\x1b[1m"
	Dim     Color = "\x1b[2m"
	Red     Color = "\x1b[31m"
	Green   Color = "\x1b[32m"
	Yellow  Color = "\x1b[33m"
	Blue    Color = "\x1b[34m"
	Magenta Color = "\x1b[35m"
	Cyan    Color = "\x1b[36m"
)

// IsTerminal reports whether x is an *os.File open on a terminal.
func IsTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termSize returns the size of the terminal x is, or 0, 0.
func termSize(x any) (width, height int) {
	f, ok := x.(*os.File)
	if !ok {
		return 0, 0
	}
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return w, h
}

// Style colours text when it goes to a terminal and NO_COLOR is not set.
type Style struct{ on bool }

// NewStyle is the style of text written to w.
func NewStyle(w io.Writer) Style {
	return Style{on: IsTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
}

// Paint colours text with c when the style is on.
func (s Style) Paint(c Color, text string) string {
	if !s.on || text == "" {
		return text
	}
	return string(c) + text + string(Reset)
}

// segment is a piece of a line with its colour, so a line can be cut to the
// terminal's width before it is coloured.
type segment struct {
	c    Color
	text string
}

// line renders segments, cut to width runes when width > 0.
func (s Style) line(width int, segs ...segment) string {
	var b strings.Builder
	left := width
	for _, sg := range segs {
		t := OneLine(sg.text)
		if width > 0 {
			if left <= 0 {
				break
			}
			if n := utf8.RuneCountInString(t); n > left {
				r := []rune(t)
				t = string(r[:max(left-1, 0)]) + "…"
			}
			left -= utf8.RuneCountInString(t)
		}
		if sg.c == "" {
			b.WriteString(t)
		} else {
			b.WriteString(s.Paint(sg.c, t))
		}
	}
	return b.String()
}

// OneLine folds whitespace, newlines included, to single spaces, and shows
// the other control characters as escapes (see Visible).
func OneLine(s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return Visible(s)
}

// Visible shows control characters other than newline and tab, invisible
// format characters (bidirectional overrides, zero-width marks) and invalid
// UTF-8 as escapes such as \x1b or \u202e, so text a model wrote cannot move
// the cursor, recolour or reorder what a person reads before confirming it.
func Visible(s string) string {
	hidden := func(r rune) bool {
		return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029')
	}
	if utf8.ValidString(s) && strings.IndexFunc(s, hidden) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case hidden(r) && r < 0x80:
			fmt.Fprintf(&b, "\\x%02x", r)
		case hidden(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// Clip shortens s to n runes, on one line.
func Clip(s string, n int) string {
	s = OneLine(strings.TrimSpace(s))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Thousands formats n with separators: 12,345.
func Thousands(n int) string { return treeview.Thousands(n) }
