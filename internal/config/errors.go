package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration error. Its Error method gives one line:
// "slotline.yaml:12: queues[0].slot_minutes: 7 is not one of ...".
type Error struct {
	File string
	// Line is 1-based; 0 means the error has no line.
	Line int
	// Field is the path to the setting, like queues[0].hours.mon-fri[1];
	// "" for errors about the file as a whole.
	Field string
	Msg   string
	// Err is the underlying error, if any, such as a *fs.PathError when the
	// file cannot be read.
	Err error
}

// Error formats e as file:line: field: message, leaving out the parts that
// are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error about field at n's line (no line when n is nil).
func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// warnf adds a warning, formatted as errorf formats an error.
func (p *parser) warnf(n *yaml.Node, field, format string, args ...any) {
	p.warnings = append(p.warnings, p.errorf(n, field, format, args...).Error())
}

// syntaxError turns the yaml package's "yaml: line N: problem" into an
// *Error. The yaml package has no structured syntax error, so the line is
// read from the text.
func (p *parser) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, text
			}
		}
	}
	return &Error{File: p.file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// at names where node n set field, in the form of errors' prefix:
// "FILE:LINE: field".
func (p *parser) at(n *yaml.Node, field string) string {
	return strings.TrimSuffix((&Error{File: p.file, Line: n.Line, Field: field}).Error(), ": ")
}
