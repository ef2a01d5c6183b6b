package config

import (
	"strings"
	"testing"
)

// TestReferenceListsEveryKey: the reference made from the example has a
// row with words for every key the parser's blocks accept, list items
// and alternatives included.
func TestReferenceListsEveryKey(t *testing.T) {
	keys, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]KeyDoc{}
	for _, k := range keys {
		if _, dup := rows[k.Path]; dup {
			t.Errorf("%s is listed twice", k.Path)
		}
		rows[k.Path] = k
	}
	for path, example := range map[string]string{
		"listen":                             "127.0.0.1:8080",
		"queues[].notify.quiet_hours":        `""`,
		"queues[].capacity_overrides[].days": "[sat, sun]",
		"genesys.sandbox.answer_rate":        "0.8",
		"queues[].schedule_group_id":         "9a8b…",
		"clients[].secret_file":              "",
	} {
		k, ok := rows[path]
		if !ok {
			t.Errorf("%s is not in the reference", path)
			continue
		}
		if k.Example != example || k.Doc == "" {
			t.Errorf("%s: example %q, doc %q; want example %q and words", path, k.Example, k.Doc, example)
		}
	}
	if len(keys) < 140 {
		t.Errorf("only %d keys listed", len(keys))
	}
	table := RenderReference(keys)
	if !strings.Contains(table, "| `genesys.mode` | `live` | live \\| sandbox") {
		t.Errorf("the table does not escape | in a cell:\n%s", table)
	}
}

// TestReferenceRefusesGaps: an example without a key the parser accepts,
// or with a key and no comment, is refused, naming the key; so a key added
// to the code fails until the example documents it.
func TestReferenceRefusesGaps(t *testing.T) {
	for _, tc := range []struct{ cut, replace, want string }{
		{"    locale: en", "", "queues[].locale is accepted but not in the example"},
		{"  format: json                           # json (default) or text", "  format: json", "log.format has no comment"},
		{"    # schedule_group_id:", "    # a group:", "queues[].schedule_group_id is accepted but not in the example"},
	} {
		var lines []string
		found := false
		for _, l := range strings.Split(string(example), "\n") {
			if strings.HasPrefix(l, tc.cut) {
				found = true
				if tc.replace == "" {
					continue
				}
				l = tc.replace + l[len(tc.cut):]
			}
			lines = append(lines, l)
		}
		if !found {
			t.Fatalf("the example has no line %q", tc.cut)
		}
		_, err := reference([]byte(strings.Join(lines, "\n")))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without %q: err = %v, want %q", tc.cut, err, tc.want)
		}
	}
}
