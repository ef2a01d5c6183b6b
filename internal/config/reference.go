package config

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// example is the documented configuration: every key the parser accepts,
// each with a comment saying what it does. docs/configuration.md shows it
// and the reference table made from it (tools/refdocs writes both).
//
//go:embed example.yaml
var example []byte

// Example returns the documented example configuration file.
func Example() []byte { return append([]byte(nil), example...) }

// A KeyDoc is one key of the configuration file, as the reference lists
// it.
type KeyDoc struct {
	// Path is the key's place, list items shown as [] ("queues[].notify.confirm").
	Path string
	// Example is the example's value as written ("15m", "[US, CA]"); empty
	// for a block whose keys follow.
	Example string
	// Doc is what the key does: the example's comment on it, or, for a key
	// the example only names in a comment (an alternative such as
	// secret_file), that comment with the key it stands beside.
	Doc string
}

// Reference lists every key the configuration parser accepts, in the
// order of the example, each with its value there and its comment. The
// keys come from the parser itself (each block's decoders, recorded while
// it reads the example), so a key added to the code is listed at once; it
// fails when the example does not load or a key has no words in it.
func Reference() ([]KeyDoc, error) { return reference(example) }

func reference(src []byte) ([]KeyDoc, error) {
	p := &parser{file: "example.yaml", getenv: exampleEnv, known: map[string][]string{}}
	root, err := p.document(src)
	if err != nil {
		return nil, err
	}
	if err := p.config(root, Default()); err != nil {
		return nil, fmt.Errorf("the example configuration does not load: %w", err)
	}
	lines := strings.Split(string(src), "\n")
	var out []KeyDoc
	listed := map[string]bool{} // the paths in out
	add := func(d KeyDoc) {
		out = append(out, d)
		listed[d.Path] = true
	}
	var problems []string
	var walk func(n *yaml.Node, block, shown string)
	walk = func(n *yaml.Node, block, shown string) {
		n = resolve(n)
		switch n.Kind {
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, block, shown+"[]")
			}
			return
		case yaml.MappingNode:
		default:
			return
		}
		accepted, isBlock := p.known[block]
		if !isBlock {
			return // an open mapping (days of hours, locales, roles): its keys are data
		}
		present := map[string]bool{}
		// This mapping's keys with all their comments, to find in them the
		// keys they name.
		type mention struct{ key, text string }
		var mentions []mention
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolve(n.Content[i+1])
			if present[k.Value] || listed[join(shown, k.Value)] {
				walk(v, join(block, k.Value), join(shown, k.Value))
				continue // a later item of a list: documented by the first
			}
			present[k.Value] = true
			d := KeyDoc{Path: join(shown, k.Value), Example: exampleValue(lines, n, k, v), Doc: comment(k, v)}
			if d.Doc == "" {
				problems = append(problems, d.Path+" has no comment in the example")
			}
			add(d)
			mentions = append(mentions, mention{k.Value, strings.Join([]string{k.HeadComment, d.Doc, k.FootComment, v.FootComment}, "\n")})
			walk(v, join(block, k.Value), join(shown, k.Value))
		}
		for _, key := range accepted {
			if present[key] || listed[join(shown, key)] {
				continue
			}
			// A key shown commented out ("# key: value # what it does"), or
			// named as another key's alternative ("or secret_file").
			line := regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(key) + `:\s*(.*?)\s+#\s*(.+)$`)
			named := regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `\b`)
			found := false
			for _, m := range mentions {
				if c := line.FindStringSubmatch(m.text); c != nil {
					add(KeyDoc{Path: join(shown, key), Example: c[1], Doc: strings.TrimSpace(c[2])})
					found = true
					break
				}
				if named.MatchString(m.text) {
					add(KeyDoc{Path: join(shown, key), Doc: "instead of `" + m.key + "`; see there"})
					found = true
					break
				}
			}
			if !found {
				problems = append(problems, join(shown, key)+" is accepted but not in the example")
			}
		}
	}
	walk(root, "", "")
	if len(p.known) < 10 {
		problems = append(problems, fmt.Sprintf("only %d blocks read", len(p.known)))
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("the example configuration does not document every key: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// exampleEnv gives the example's environment variables values that pass
// their checks.
func exampleEnv(k string) string {
	if strings.Contains(k, "KEY") {
		return "pk_documentation0123456789"
	}
	return "documentation-secret-0123456789"
}

// comment is the text of the comment on key k with value v.
func comment(k, v *yaml.Node) string {
	for _, c := range []string{v.LineComment, k.LineComment} {
		if c != "" {
			return strings.TrimSpace(strings.TrimPrefix(c, "#"))
		}
	}
	return ""
}

// exampleValue is the value of key k as the example writes it on the
// key's line, without its comment; empty when the value is a block on the
// lines below. In a flow mapping it is the scalar's value.
func exampleValue(lines []string, m, k, v *yaml.Node) string {
	if m.Style&yaml.FlowStyle != 0 && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	if k.Line < 1 || k.Line > len(lines) {
		return ""
	}
	line := lines[k.Line-1]
	_, rest, ok := strings.Cut(line[min(k.Column-1, len(line)):], ":")
	if !ok {
		return ""
	}
	if i := commentStart(rest); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSpace(rest)
}

// commentStart is the index of the " #" that starts a comment in s, outside
// quotes, or -1.
func commentStart(s string) int {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// RenderReference writes the reference as a Markdown table: key, example
// value, meaning.
func RenderReference(ds []KeyDoc) string {
	var b strings.Builder
	b.WriteString("| Key | Example | Meaning |\n|---|---|---|\n")
	for _, d := range ds {
		ex := ""
		if d.Example != "" {
			ex = "`" + strings.ReplaceAll(d.Example, "|", `\|`) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", d.Path, ex, strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	return b.String()
}
