package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Setting is one parameter of a sweep: the key at Key (a dotted path as
// errors name keys, e.g. network.loss or churn.session.scale; a list item
// as workload[0]) takes Value, a YAML value such as 0.05, 5s or
// {distribution: constant, value: 10ms}.
type Setting struct {
	Key, Value string
}

// String returns KEY=VALUE.
func (s Setting) String() string { return s.Key + "=" + s.Value }

// SettingError is a problem with one setting of a variant: the key cannot
// be set, or the value it sets is wrong.
type SettingError struct {
	// Setting is the setting at fault.
	Setting Setting
	// Key is the key path the problem is about (the setting's key or one
	// inside or around it).
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error returns "--set KEY=VALUE: KEY: message".
func (e *SettingError) Error() string {
	if e.Key == "" || e.Key == e.Setting.Key {
		return fmt.Sprintf("--set %s: %s: %s", e.Setting, e.Setting.Key, e.Msg)
	}
	return fmt.Sprintf("--set %s: %s: %s", e.Setting, e.Key, e.Msg)
}

// Variant parses the scenario file data (named file) with each setting
// applied, in order: a sweep's cell. The file itself must parse: its own
// problems are reported as Parse reports them, at their lines. Problems
// that the settings cause are *SettingError values naming the setting,
// all of them joined; a problem not about any setting's key (a setting
// that breaks a rule between keys) names every setting of the variant.
func Variant(file string, data []byte, settings []Setting) (*Scenario, error) {
	if _, err := Parse(file, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	var errs []error
	for _, st := range settings {
		if err := set(root, st); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s, err := Parse(file, out)
	if err == nil {
		return s, nil
	}
	return nil, Attribute(settings, err)
}

// Attribute turns the problems in err (as Parse and ApplyOverrides report
// them) of a variant made with settings into *SettingError values naming
// the setting whose key each is about; a problem about no setting's key
// names all of them. Their lines are left out: they are lines of the
// variant, not of the file.
func Attribute(settings []Setting, err error) error {
	var errs []error
	var se []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var x *Error
			if errors.As(e, &x) {
				se = append(se, x)
			}
		}
	}
	for _, e := range se {
		owner := -1
		for i, st := range settings {
			if related(e.Key, st.Key) {
				owner = i
			}
		}
		if owner >= 0 {
			errs = append(errs, &SettingError{Setting: settings[owner], Key: e.Key, Msg: e.Msg})
			continue
		}
		names := make([]string, len(settings))
		for i, st := range settings {
			names[i] = "--set " + st.String()
		}
		key := e.Key
		if key == "" {
			key = "(file)"
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", strings.Join(names, " "), key, e.Msg))
	}
	if len(errs) == 0 {
		return err
	}
	return errors.Join(errs...)
}

// related reports whether key paths a and b are one inside the other.
func related(a, b string) bool {
	inside := func(x, y string) bool {
		return x == y || strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[")
	}
	return a != "" && (inside(a, b) || inside(b, a))
}

// set applies one setting to the document rooted at root.
func set(root *yaml.Node, st Setting) error {
	bad := func(format string, args ...any) error {
		return &SettingError{Setting: st, Msg: fmt.Sprintf(format, args...)}
	}
	if st.Key == "" {
		return bad("empty key")
	}
	if st.Key == "seed" {
		return bad("the seed is swept with --seeds")
	}
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(st.Value), &val); err != nil {
		return bad("value %q is not valid YAML: %v", st.Value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if val.Kind == yaml.DocumentNode && len(val.Content) == 1 {
		v = val.Content[0]
	}
	cur := root
	parts := strings.Split(st.Key, ".")
	for pi, part := range parts {
		name, index, hasIndex, err := splitIndex(part)
		if err != nil || name == "" {
			return bad("invalid key path: %q is not a key or key[index]", part)
		}
		last := pi == len(parts)-1
		if cur.Kind == yaml.ScalarNode && cur.ShortTag() == tagNull {
			cur.Kind, cur.Tag, cur.Value = yaml.MappingNode, "", ""
		}
		if cur.Kind != yaml.MappingNode {
			return bad("%s is not a mapping: it cannot hold %q", strings.Join(parts[:pi], "."), name)
		}
		var child *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == name {
				child = cur.Content[i+1]
			}
		}
		if child == nil {
			if hasIndex {
				return bad("%s has no list %q to index", pathOr(parts[:pi]), name)
			}
			child = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
			cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, child)
		}
		if hasIndex {
			child = deref(child)
			if child.Kind != yaml.SequenceNode || index >= len(child.Content) {
				return bad("%s has no item %d", strings.Join(append(parts[:pi:pi], name), "."), index)
			}
			child = child.Content[index]
		}
		if last {
			*child = *v
			return nil
		}
		cur = deref(child)
	}
	return nil
}

func pathOr(parts []string) string {
	if len(parts) == 0 {
		return "the scenario"
	}
	return strings.Join(parts, ".")
}

// splitIndex splits "name[3]" into name and 3.
func splitIndex(part string) (name string, index int, ok bool, err error) {
	name, rest, ok := strings.Cut(part, "[")
	if !ok {
		return part, 0, false, nil
	}
	num, tail, closed := strings.Cut(rest, "]")
	if !closed || tail != "" {
		return "", 0, false, errors.New("unclosed index")
	}
	index, err = strconv.Atoi(num)
	if err != nil || index < 0 {
		return "", 0, false, errors.New("bad index")
	}
	return name, index, true, nil
}
