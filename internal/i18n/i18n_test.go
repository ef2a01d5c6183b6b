package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadAndText(t *testing.T) {
	fsys := fstest.MapFS{
		"i18n/en.json": {Data: []byte(`{"hello": "Hello, {name}!", "only_en": "English"}`)},
		"i18n/de.json": {Data: []byte(`{"hello": "Hallo, {name}!"}`)},
	}
	c, err := Load(fsys, "i18n", []string{"en", "de"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ lang, key, want string }{
		{"de", "hello", "Hallo, Ada!"},
		{"en", "hello", "Hello, Ada!"},
		{"de", "only_en", "English"},   // from en
		{"fr", "hello", "Hello, Ada!"}, // no French: en
		{"de", "missing", "missing"},   // the key itself
	} {
		if got := c.Text(tt.lang, tt.key, "name", "Ada"); got != tt.want {
			t.Errorf("Text(%s, %s) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
	// A page's own keys in <part>.<lang>.json join the language's catalog;
	// a key given twice is refused.
	fsys["i18n/page.de.json"] = &fstest.MapFile{Data: []byte(`{"page.title": "Seite"}`)}
	if c, err = Load(fsys, "i18n", []string{"en", "de"}); err != nil {
		t.Fatal(err)
	} else if got := c.Text("de", "page.title"); got != "Seite" {
		t.Errorf("page.title = %q from the part file", got)
	}
	fsys["i18n/other.de.json"] = &fstest.MapFile{Data: []byte(`{"hello": "Servus"}`)}
	if _, err := Load(fsys, "i18n", []string{"en", "de"}); err == nil || !strings.Contains(err.Error(), `"hello"`) {
		t.Errorf("a key given twice: %v", err)
	}
	delete(fsys, "i18n/other.de.json")
	if _, err := Load(fsys, "i18n", []string{"en", "es"}); err == nil {
		t.Error("a missing catalog loaded")
	}
	bad := fstest.MapFS{"i18n/en.json": {Data: []byte(`{"n": 1}`)}}
	if _, err := Load(bad, "i18n", []string{"en"}); err == nil {
		t.Error("a catalog with a number loaded")
	}
}
