package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/scenarios"
)

// applyProtocolFile sets protocol settings from a YAML mapping of
// snake_case names, the keys of a scenario's protocol block
// (walk_interval: 2s, eager_puncture: true, ...). The settings are
// checked as a scenario's are, with file:line errors, all or nothing.
func applyProtocolFile(cfg *protocol.Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--protocol: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping of protocol setting: value", path, root.Line)
	}
	s := &scenarios.Scenario{File: path}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s:%d: want setting: value, one value per setting", path, k.Line)
		}
		if l, dup := seen[k.Value]; dup {
			return fmt.Errorf("%s:%d: setting %q given twice (first at line %d)", path, k.Line, k.Value, l)
		}
		seen[k.Value] = k.Line
		s.Protocol = append(s.Protocol, scenarios.Override{Key: k.Value, Value: v, Line: k.Line})
	}
	c := *cfg
	if err := s.ApplyOverrides(&c); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	*cfg = c
	return nil
}
