package config

import (
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source resolves a value that may be given under one of several keys of
// mapping f: a key ending in _env names an environment variable, one ending
// in _file names a file (relative to the config file, trailing newlines
// dropped), and any other key holds the value itself. At most one of keys
// may be given; key is the one used, or "" when none is. The value must not
// be empty, and messages never include it.
func (p *parser) source(f map[string]*yaml.Node, path string, keys ...string) (val, key string, err error) {
	if key, err = p.onlyOne(f, path, keys); err != nil || key == "" {
		return "", "", err
	}
	v, field := f[key], join(path, key)
	s, err := p.str(v, field)
	if err != nil {
		return "", "", err
	}
	switch {
	case strings.HasSuffix(key, "_env"):
		val, err = p.fromEnv(v, field, s)
	case strings.HasSuffix(key, "_file"):
		val, err = p.fromFile(v, field, s)
	default:
		if val = s; val == "" {
			err = p.errorf(v, field, "must not be empty")
		}
	}
	if err != nil {
		return "", "", err
	}
	return val, key, nil
}

// onlyOne returns the one of keys that f holds, or "" when it holds none.
// When it holds more, the error is at the later of the first two in keys.
func (p *parser) onlyOne(f map[string]*yaml.Node, path string, keys []string) (string, error) {
	key := ""
	for _, k := range keys {
		if f[k] == nil {
			continue
		}
		if key != "" {
			later := k
			if f[key].Line > f[k].Line {
				later = key
			}
			return "", p.errorf(f[later], join(path, later), "give only one of %s", andList(keys))
		}
		key = k
	}
	return key, nil
}

// fromEnv returns the value of the environment variable name, which must
// be set and not empty.
func (p *parser) fromEnv(v *yaml.Node, field, name string) (string, error) {
	if name == "" {
		return "", p.errorf(v, field, "must name an environment variable")
	}
	val := p.getenv(name)
	if val == "" {
		return "", p.errorf(v, field, "environment variable %s is unset or empty", name)
	}
	return val, nil
}

// fromFile returns the content of the file name, relative to the config
// file, without trailing newlines; it must not be empty.
func (p *parser) fromFile(v *yaml.Node, field, name string) (string, error) {
	if name == "" {
		return "", p.errorf(v, field, "must name a file")
	}
	data, err := os.ReadFile(p.path(name))
	if err != nil {
		return "", &Error{File: p.file, Line: v.Line, Field: field, Msg: err.Error(), Err: err}
	}
	val := strings.TrimRight(string(data), "\r\n")
	if val == "" {
		return "", p.errorf(v, field, "file %s is empty", name)
	}
	return val, nil
}
