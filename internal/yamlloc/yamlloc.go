// Package yamlloc locates problems in YAML documents read with goccy/go-yaml:
// an Error names the file, the line and the field (its YAML path), and the
// helpers find the line of any path and the field of a decoding error. The
// team file and the eval scenario share it.
package yamlloc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Error is a problem in a YAML file, located by file, line and field.
type Error struct {
	// File is the file's name as given to the parser.
	File string
	// Line is the line of the offending node, from 1; 0 when unknown.
	Line int
	// Field is the YAML path of the offending field, e.g.
	// "agents[1].delegates_to"; empty for a problem of the whole file.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error renders as `team.yaml:7: agents[1].delegates_to: unknown agent "wrker"`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("input")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Path is n's YAML path without the leading "$.", e.g. "agents[1].tools".
func Path(n ast.Node) string {
	return strings.TrimPrefix(strings.TrimPrefix(n.GetPath(), "$"), ".")
}

// LineIndex maps every YAML path of the document to the line it starts on:
// a key's line for a field, an item's line for a list item.
func LineIndex(body ast.Node) map[string]int {
	lines := map[string]int{}
	ast.Walk(visitor(func(n ast.Node) {
		tk := n.GetToken()
		if tk == nil {
			return
		}
		p := Path(n)
		if _, seen := lines[p]; !seen {
			lines[p] = tk.Position.Line
		}
	}), body)
	return lines
}

type visitor func(ast.Node)

// Visit calls v on n.
func (v visitor) Visit(n ast.Node) ast.Visitor {
	if n != nil {
		v(n)
	}
	return v
}

// FromYAML turns a goccy error into an *Error with the line of the offending
// token and the field whose node holds it (when body is given). Errors that
// carry no token keep their text.
func FromYAML(filename string, body ast.Node, err error) *Error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return &Error{File: filename, Msg: err.Error()}
	}
	tk := ye.GetToken()
	e := &Error{File: filename, Line: tk.Position.Line, Msg: ye.GetMessage()}
	if body != nil {
		ast.Walk(visitor(func(n ast.Node) {
			if e.Field == "" && n.GetToken() == tk {
				e.Field = Path(n)
			}
		}), body)
	}
	return e
}
