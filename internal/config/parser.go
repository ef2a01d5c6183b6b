package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parser turns a YAML node tree into a Config, keeping the file name for
// messages.
type parser struct {
	file     string
	dir      string
	getenv   func(string) string
	warnings []string
	// known, when not nil, records for each block read (by its path, list
	// indexes dropped) the keys it accepts: the documentation's test.
	known map[string][]string
}

// document parses data into the root mapping node; an empty file gives an
// empty mapping.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	} else if err != nil {
		return nil, p.syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, p.errorf(&extra, "", "only one YAML document is allowed")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	return root, nil
}

// Node helpers. Each takes the field path for its messages.

type pair struct{ key, value *yaml.Node }

// pairs returns the entries of mapping n in order, after checking that n is
// a mapping whose keys are strings that do not repeat.
func (p *parser) pairs(n *yaml.Node, path string) ([]pair, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, path, "must be a mapping, not %s", describe(n))
	}
	first := map[string]int{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, p.errorf(k, path, "keys must be strings, not %s", describe(k))
		}
		field := join(path, k.Value)
		if k.ShortTag() == "!!merge" {
			return nil, p.errorf(k, field, "merge keys are not supported")
		}
		if line, ok := first[k.Value]; ok {
			return nil, p.errorf(k, field, "is given twice (first on line %d)", line)
		}
		first[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	return out, nil
}

// fields returns the values of mapping n by key. A key not in known is an
// error. A null value counts as absent, so an empty value means the default.
func (p *parser) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, error) {
	pairs, err := p.pairs(n, path)
	if err != nil {
		return nil, err
	}
	if p.known != nil {
		p.known[blockPath(path)] = known
	}
	f := make(map[string]*yaml.Node, len(pairs))
	for _, kv := range pairs {
		if !slices.Contains(known, kv.key.Value) {
			return nil, p.errorf(kv.key, join(path, kv.key.Value), "unknown field")
		}
		if !isNull(kv.value) {
			f[kv.key.Value] = kv.value
		}
	}
	return f, nil
}

// list returns the items of sequence n.
func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, path, "must be a list, not %s", describe(n))
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		out[i] = resolve(item)
	}
	return out, nil
}

// str returns the text of scalar n, whatever YAML type it resolves to.
func (p *parser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, path, "must be a string, not %s", describe(n))
	}
	return n.Value, nil
}

// listOf reads each item of list n with read, at path[0], path[1]…, and
// stops at the first error.
func listOf[T any](p *parser, n *yaml.Node, path string, read func(*yaml.Node, string) (T, error)) ([]T, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	var out []T
	for i, item := range items {
		x, err := read(item, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// withUniqueIDs is listOf for items that have an id key: an item whose id
// an earlier item has is an error, reported before the next item is read.
func withUniqueIDs[T any](p *parser, n *yaml.Node, path string, read func(*yaml.Node, string) (T, error), id func(T) string) ([]T, error) {
	var earlier []string
	return listOf(p, n, path, func(item *yaml.Node, field string) (T, error) {
		x, err := read(item, field)
		if err != nil {
			return x, err
		}
		if j := slices.Index(earlier, id(x)); j >= 0 {
			return x, p.errorf(valueOf(item, "id"), field+".id", "%q is already used by %s[%d]", id(x), path, j)
		}
		earlier = append(earlier, id(x))
		return x, nil
	})
}

// A decoder reads the value of one optional key of a mapping. Read is
// given the value, never null, and the path to it for messages.
type decoder struct {
	key  string
	read func(v *yaml.Node, field string) error
}

// keys returns the keys of ds, in order.
func keys(ds []decoder) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.key
	}
	return out
}

// decode runs, in the order of ds, the decoder of each key that f holds,
// and stops at the first error.
func (p *parser) decode(f map[string]*yaml.Node, path string, ds []decoder) error {
	for _, d := range ds {
		if v := f[d.key]; v != nil {
			if err := d.read(v, join(path, d.key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// block reads mapping n, whose keys must be those of ds, with ds. It
// returns the values by key, as fields does.
func (p *parser) block(n *yaml.Node, path string, ds ...decoder) (map[string]*yaml.Node, error) {
	f, err := p.fields(n, path, keys(ds)...)
	if err != nil {
		return nil, err
	}
	if err := p.decode(f, path, ds); err != nil {
		return nil, err
	}
	return f, nil
}

// into makes a decoder's read out of read, storing the value it returns in
// *dst; *dst is left alone on error.
func into[T any](dst *T, read func(v *yaml.Node, field string) (T, error)) func(*yaml.Node, string) error {
	return func(v *yaml.Node, field string) error {
		x, err := read(v, field)
		if err != nil {
			return err
		}
		*dst = x
		return nil
	}
}

// onto makes a decoder's read out of read, which fills in *dst (a block
// read over its defaults).
func onto[T any](dst *T, read func(v *yaml.Node, field string, dst *T) error) func(*yaml.Node, string) error {
	return func(v *yaml.Node, field string) error { return read(v, field, dst) }
}

// path resolves a path from the file against the file's directory.
func (p *parser) path(s string) string {
	if filepath.IsAbs(s) || p.dir == "" {
		return s
	}
	return filepath.Join(p.dir, s)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// valueOf returns the value of key in mapping n, which has been checked.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// blockPath is path without its list indexes: queues[0].throttle becomes
// queues.throttle.
func blockPath(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
