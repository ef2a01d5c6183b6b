package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Languages are the console's languages, the first the fallback.
var Languages = []string{"en", "de", "fr", "es"}

//go:embed i18n/*.json
var catalogFS embed.FS

// catalogs are the message catalogs: language → key → text with {name}
// placeholders.
type catalogs map[string]map[string]string

// loadCatalogs reads the embedded catalogs; every language must have one.
func loadCatalogs() (catalogs, error) {
	c := catalogs{}
	for _, l := range Languages {
		b, err := catalogFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			return nil, fmt.Errorf("console message catalog %s: %w", l, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("console message catalog %s: %w", l, err)
		}
		c[l] = m
	}
	return c, nil
}

// text returns the message key in lang with its placeholders filled from
// args (name, value pairs); a key missing in lang is taken from en, and
// one missing there too is returned as it is (a test keeps them complete).
func (c catalogs) text(lang, key string, args ...string) string {
	s, ok := c[lang][key]
	if !ok {
		if s, ok = c["en"][key]; !ok {
			return key
		}
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}

// chooseLang picks the page's language: ?lang= (or the posted form's
// lang), else Accept-Language in order of preference, else en.
func chooseLang(r *http.Request) string {
	want := r.URL.Query().Get("lang")
	if r.Form != nil && r.Form.Get("lang") != "" {
		want = r.Form.Get("lang")
	}
	if l, ok := shipped(want); ok {
		return l
	}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		for _, t := range tags {
			if l, ok := shipped(t.String()); ok {
				return l
			}
		}
	}
	return Languages[0]
}

// shipped returns the console language of a BCP 47 tag.
func shipped(tag string) (string, bool) {
	if tag == "" || len(tag) > 35 {
		return "", false
	}
	t, err := language.Parse(tag)
	if err != nil {
		return "", false
	}
	base, _ := t.Base()
	for _, l := range Languages {
		if base.String() == l {
			return l, true
		}
	}
	return "", false
}
