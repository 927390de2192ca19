package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Settings come from, in order of precedence: command-line flags, PEER_*
// environment variables (PEER_ and the flag's name in upper case with '_'
// for '-': PEER_WALK_INTERVAL), a YAML file given with --config (or
// PEER_CONFIG) whose keys are the flags' names, and the flags' defaults.
// A repeatable flag takes a YAML list, or a comma-separated variable.
// Keys and variables that name no flag of any command are errors; those of
// another command are ignored, so one file serves run, status and publish.

// repeatable is implemented by flags that may be given several times.
type repeatable interface{ repeatable() }

// fileSetting is one key of a config file.
type fileSetting struct {
	key    string
	line   int
	values []string
}

// parseConfig reads the YAML mapping of a config file. It does not check
// the keys.
func parseConfig(file string, data []byte) ([]fileSetting, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) || len(bytes.TrimSpace(data)) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of setting: value", file, root.Line)
	}
	var out []fileSetting
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: a setting's name must be a plain string", file, k.Line)
		}
		if l, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: setting %q given twice (first at line %d)", file, k.Line, k.Value, l)
		}
		seen[k.Value] = k.Line
		s := fileSetting{key: k.Value, line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			s.values = []string{v.Value}
		case yaml.SequenceNode:
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%s:%d: setting %q: list items must be plain values", file, e.Line, k.Value)
				}
				s.values = append(s.values, e.Value)
			}
		default:
			return nil, fmt.Errorf("%s:%d: setting %q: want a value or a list of values", file, v.Line, k.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

// applySettings fills the flags of fs that the command line left unset
// from the environment and then from the config file. known holds every
// flag name of every command.
func applySettings(fs *flag.FlagSet, known map[string]bool, configPath string, environ []string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// environment
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "PEER_") {
			continue
		}
		flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "PEER_"), "_", "-"))
		if !known[flagName] {
			return fmt.Errorf("environment variable %s: unknown setting%s", name, suggestion(flagName, known))
		}
		f := fs.Lookup(flagName)
		if f == nil || set[flagName] || flagName == "config" {
			continue
		}
		values := []string{val}
		if _, ok := f.Value.(repeatable); ok {
			values = splitList(val)
		}
		for _, v := range values {
			if err := fs.Set(flagName, v); err != nil {
				return fmt.Errorf("environment variable %s=%q: %w", name, val, err)
			}
		}
		set[flagName] = true
	}
	if configPath == "" {
		return nil
	}
	data, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	settings, err := parseConfig(configPath, data)
	if err != nil {
		return err
	}
	for _, s := range settings {
		if !known[s.key] || s.key == "config" {
			return fmt.Errorf("%s:%d: unknown setting %q%s", configPath, s.line, s.key, suggestion(s.key, known))
		}
		f := fs.Lookup(s.key)
		if f == nil || set[s.key] {
			continue
		}
		if _, ok := f.Value.(repeatable); !ok && len(s.values) != 1 {
			return fmt.Errorf("%s:%d: setting %q takes one value, got a list", configPath, s.line, s.key)
		}
		for _, v := range s.values {
			if err := fs.Set(s.key, v); err != nil {
				return fmt.Errorf("%s:%d: setting %q: %w", configPath, s.line, s.key, err)
			}
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// suggestion names the known setting s probably meant: the same name
// with '_' for '-' or in another case, or one that s starts or ends with.
func suggestion(s string, known map[string]bool) string {
	norm := strings.ToLower(strings.ReplaceAll(s, "_", "-"))
	var names []string
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == norm || (len(k) >= 4 && (strings.HasPrefix(norm, k) || strings.HasSuffix(norm, k))) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}
