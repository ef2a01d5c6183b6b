// Package i18n holds the pages' message catalogs: for each language, a
// JSON object of key → text with {name} placeholders, embedded by the
// package whose pages they are (internal/web, internal/console).
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Catalogs are message catalogs: language → key → text.
type Catalogs map[string]map[string]string

// Load reads dir/<lang>.json from fsys for each of langs; every one must
// be there and be a JSON object of strings.
func Load(fsys fs.FS, dir string, langs []string) (Catalogs, error) {
	c := Catalogs{}
	for _, l := range langs {
		b, err := fs.ReadFile(fsys, path.Join(dir, l+".json"))
		if err != nil {
			return nil, fmt.Errorf("message catalog %s: %w", l, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("message catalog %s: %w", l, err)
		}
		c[l] = m
	}
	return c, nil
}

// Text returns the message key in lang with its placeholders filled from
// args (name, value pairs); a key missing in lang is taken from en, and a
// key missing there too is returned as it is (the packages' tests keep
// their catalogs complete).
func (c Catalogs) Text(lang, key string, args ...string) string {
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
