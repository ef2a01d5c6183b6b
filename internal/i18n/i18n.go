// SPDX-License-Identifier: Apache-2.0

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

// Load reads the catalog of each of langs from fsys: dir/<lang>.json,
// which must be there, merged with any dir/<part>.<lang>.json (a page's
// own keys, so that pages are written and merged apart); each is a JSON
// object of strings, and a key given by two files is an error.
func Load(fsys fs.FS, dir string, langs []string) (Catalogs, error) {
	c := Catalogs{}
	for _, l := range langs {
		parts, err := fs.Glob(fsys, path.Join(dir, "*."+l+".json"))
		if err != nil {
			return nil, fmt.Errorf("message catalog %s: %w", l, err)
		}
		m := map[string]string{}
		for _, name := range append([]string{path.Join(dir, l+".json")}, parts...) {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("message catalog %s: %w", l, err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("message catalog %s: %w", name, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("message catalog %s: key %q is given twice", name, k)
				}
				m[k] = v
			}
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
