package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigurationDocumented: the example in docs/configuration.md loads,
// and every key that any block it reaches accepts is in it, at its place
// or named in a comment there ("or secret_file"), so that a key added to
// the code without documentation fails here.
func TestConfigurationDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/configuration.md has no yaml example")
	}
	doc := m[1]
	p := &parser{file: "configuration.md", getenv: func(k string) string {
		if strings.Contains(k, "KEY") {
			return "pk_documentation0123456789"
		}
		return "documentation-secret-0123456789"
	}, known: map[string][]string{}}
	root, err := p.document(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.config(root, Default()); err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	present := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		n = resolve(n)
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := join(path, n.Content[i].Value)
				present[k] = true
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		}
	}
	walk(root, "")
	text := string(doc)
	paths := make([]string, 0, len(p.known))
	for path := range p.known {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		for _, k := range p.known[path] {
			if present[join(path, k)] || regexp.MustCompile(`\b`+regexp.QuoteMeta(k)+`\b`).MatchString(text) {
				continue
			}
			t.Errorf("docs/configuration.md does not document %s", join(path, k))
		}
	}
	if len(p.known) < 10 {
		t.Errorf("only %d blocks read: %v", len(p.known), paths)
	}
}
