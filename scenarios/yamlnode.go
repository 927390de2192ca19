package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Short YAML tags as yaml.Node.ShortTag reports them.
const (
	tagNull  = "!!null"
	tagBool  = "!!bool"
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagMerge = "!!merge"
)

// parser turns YAML nodes into values, recording every problem it meets.
type parser struct {
	problems
}

// field is one key a mapping may hold.
type field struct {
	key      string
	required bool
	// parse handles the key's value v; path is the dotted path of the key.
	parse func(path string, v *yaml.Node)
}

// entry is one key/value pair of a mapping.
type entry struct {
	key, val *yaml.Node
}

// joinPath returns the dotted path of key inside path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath returns the path of item i (from 0) of the sequence at path,
// as in workload[1].
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is a YAML null (an empty value, ~ or null).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull)
}

// describe names what n holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a sequence"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "..."
	}
	switch n.ShortTag() {
	case tagStr:
		return fmt.Sprintf("string %q", v)
	case tagInt:
		return "integer " + v
	case tagFloat:
		return "number " + v
	case tagBool:
		return "boolean " + v
	default:
		return fmt.Sprintf("%s %q", n.ShortTag(), v)
	}
}

// document decodes data into the root node of its single document, or
// records why it cannot and returns nil. An empty document yields nil too.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(1, 0, "", "empty scenario; required keys: name, duration, nodes")
		} else {
			p.syntax(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := decode(dec, &extra); {
	case err == nil:
		p.add(extra.Line, extra.Column, "", "a second YAML document; a scenario file holds exactly one")
	case !errors.Is(err, io.EOF):
		p.syntax(err, data)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			p.add(1, 0, "", "empty scenario; required keys: name, duration, nodes")
			return nil
		}
		root = doc.Content[0]
	}
	if isNull(deref(root)) {
		p.add(max(root.Line, 1), root.Column, "", "empty scenario; required keys: name, duration, nodes")
		return nil
	}
	if deref(root).Kind != yaml.MappingNode {
		p.add(root.Line, root.Column, "", "a scenario is a mapping of keys, got %s", describe(root))
		return nil
	}
	return deref(root)
}

// decode runs dec.Decode, turning a panic inside the YAML library into an
// error so that no input can crash the caller.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntax records a YAML syntax error at the line it is on. yaml.v3 puts
// the line in its message ("yaml: line 3: ..."), but counts from 0 for
// parser (as opposed to scanner) errors and leaves it out for errors on the
// first line and for reader and alias errors, so this corrects and fills in
// the line from data.
func (p *parser) syntax(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	switch {
	case line > 0 && isParserProblem(msg):
		line++
	case line == 0:
		line = locate(msg, data)
	}
	// An error at the end of the input is on the last line, not after it.
	lines := bytes.Count(data, []byte("\n"))
	if !bytes.HasSuffix(data, []byte("\n")) {
		lines++
	}
	line = max(1, min(line, lines))
	p.add(line, 0, "", "invalid YAML: %s", msg)
}

// isParserProblem reports whether msg is one of the problems of yaml.v3's
// parser, whose lines it reports counting from 0.
func isParserProblem(msg string) bool {
	for _, prefix := range []string{
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"did not find expected '-' indicator",
		"did not find expected <document start>",
		"did not find expected <stream-start>",
		"did not find expected key",
		"did not find expected node content",
		"found duplicate %TAG directive",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found undefined tag handle",
	} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// locate finds the line of a YAML error whose message carries none: the
// first use of an unknown alias, the first byte the YAML reader refuses
// (invalid UTF-8 or a control character), or else line 1.
func locate(msg string, data []byte) int {
	offset := -1
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name, _, _ = strings.Cut(name, "'")
		offset = bytes.Index(data, []byte("*"+name))
	} else {
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 || !printable(r) {
				offset = i
				break
			}
			i += size
		}
	}
	if offset < 0 {
		return 1
	}
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}

// printable reports whether YAML allows r in a stream (YAML 1.2 §5.1).
func printable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// entries returns the key/value pairs of mapping m (at path) in file order.
// It reports, and leaves out, duplicate keys and keys that are not scalars.
func (p *parser) entries(m *yaml.Node, path string) []entry {
	var out []entry
	first := make(map[string]int)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, k.Column, path, "keys must be plain words, got %s", describe(k))
			continue
		}
		if k.ShortTag() == tagMerge {
			p.add(k.Line, k.Column, joinPath(path, k.Value), "merge keys (<<) are not supported")
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.add(k.Line, k.Column, joinPath(path, k.Value), "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, entry{k, v})
	}
	return out
}

// fields dispatches the entries es of mapping m (at path) to fields,
// reporting unknown keys and required keys that are missing.
func (p *parser) fields(m *yaml.Node, path string, es []entry, fields []field) {
	seen := make(map[string]bool)
	for _, e := range es {
		name := e.key.Value
		var f *field
		for i := range fields {
			if fields[i].key == name {
				f = &fields[i]
				break
			}
		}
		if f == nil {
			p.unknownKey(e.key, path, fields)
			continue
		}
		seen[name] = true
		f.parse(joinPath(path, name), e.val)
	}
	for _, f := range fields {
		if f.required && !seen[f.key] {
			p.add(m.Line, m.Column, joinPath(path, f.key), "required key missing")
		}
	}
}

// unknownKey reports key k of the mapping at path, which has only fields.
func (p *parser) unknownKey(k *yaml.Node, path string, fields []field) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
	}
	p.add(k.Line, k.Column, joinPath(path, k.Value), "unknown key %q%s; allowed keys: %s",
		k.Value, suggest(k.Value, names), strings.Join(names, ", "))
}

// block checks that v is a mapping (a null counts as an empty one) and
// dispatches its entries to fields.
func (p *parser) block(path string, v *yaml.Node, fields []field) {
	if m := p.mapping(path, v); m != nil {
		p.fields(m, path, p.entries(m, path), fields)
	}
}

// mapping returns v as a mapping node; a null is an empty mapping. It
// returns nil, having reported the problem, if v is something else.
func (p *parser) mapping(path string, v *yaml.Node) *yaml.Node {
	d := deref(v)
	if isNull(d) {
		return &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
	}
	if d.Kind != yaml.MappingNode {
		p.add(v.Line, v.Column, path, "expected a mapping, got %s", describe(v))
		return nil
	}
	return d
}

// sequence returns v as a sequence node; a null is an empty sequence. It
// returns nil, having reported the problem, if v is something else.
func (p *parser) sequence(path string, v *yaml.Node) *yaml.Node {
	d := deref(v)
	if isNull(d) {
		return &yaml.Node{Kind: yaml.SequenceNode, Line: v.Line, Column: v.Column}
	}
	if d.Kind != yaml.SequenceNode {
		p.add(v.Line, v.Column, path, "expected a list, got %s", describe(v))
		return nil
	}
	return d
}

// scalar returns v as a non-null scalar, or nil after reporting that it
// is not one; want names the expected value.
func (p *parser) scalar(path string, v *yaml.Node, want string) *yaml.Node {
	d := deref(v)
	if d == nil || d.Kind != yaml.ScalarNode || isNull(d) {
		p.add(v.Line, v.Column, path, "expected %s, got %s", want, describe(v))
		return nil
	}
	return d
}

// str returns the string scalar v.
func (p *parser) str(path string, v *yaml.Node) (string, bool) {
	d := p.scalar(path, v, "a string")
	if d == nil {
		return "", false
	}
	if d.ShortTag() != tagStr {
		p.add(v.Line, v.Column, path, "expected a string, got %s (quote it to make it a string)", describe(v))
		return "", false
	}
	return d.Value, true
}

// duration returns the Go-syntax duration v (time.ParseDuration). With
// positive set it must be > 0, else >= 0.
func (p *parser) duration(path string, v *yaml.Node, positive bool) (time.Duration, bool) {
	d := p.scalar(path, v, "a duration such as 5s or 1m30s")
	if d == nil {
		return 0, false
	}
	dur, err := time.ParseDuration(d.Value)
	if err != nil {
		p.add(v.Line, v.Column, path, "invalid duration %q (want Go syntax such as 60ms, 5s or 1m30s)", d.Value)
		return 0, false
	}
	switch {
	case positive && dur <= 0:
		p.add(v.Line, v.Column, path, "duration must be positive, got %s", d.Value)
		return 0, false
	case dur < 0:
		p.add(v.Line, v.Column, path, "duration must not be negative, got %s", d.Value)
		return 0, false
	}
	return dur, true
}

// integer returns the integer v as a sign and a magnitude, which covers
// every int64 and uint64.
func (p *parser) integer(path string, v *yaml.Node) (neg bool, mag uint64, ok bool) {
	d := p.scalar(path, v, "an integer")
	if d == nil {
		return false, 0, false
	}
	tag := d.ShortTag()
	if tag == tagFloat && looksInteger(d.Value) {
		// yaml.v3 resolves integers beyond 64 bits as floats.
		p.add(v.Line, v.Column, path, "integer %s is out of range", d.Value)
		return false, 0, false
	}
	if tag != tagInt {
		p.add(v.Line, v.Column, path, "expected an integer, got %s", describe(v))
		return false, 0, false
	}
	var x any
	if err := d.Decode(&x); err != nil {
		p.add(v.Line, v.Column, path, "invalid integer %q: %v", d.Value, err)
		return false, 0, false
	}
	switch x := x.(type) {
	case int:
		return signMag(int64(x))
	case int64:
		return signMag(x)
	case uint64:
		return false, x, true
	}
	p.add(v.Line, v.Column, path, "invalid integer %q", d.Value)
	return false, 0, false
}

// signMag splits x into sign and magnitude.
func signMag(x int64) (neg bool, mag uint64, ok bool) {
	if x < 0 {
		return true, uint64(-(x + 1)) + 1, true
	}
	return false, uint64(x), true
}

// looksInteger reports whether s is an optionally signed run of digits
// (underscores allowed, as yaml.v3 allows them).
func looksInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// positive returns the integer v as an int, which must be >= 1.
func (p *parser) positive(path string, v *yaml.Node) (int, bool) {
	neg, mag, ok := p.integer(path, v)
	if !ok {
		return 0, false
	}
	if neg || mag == 0 {
		p.add(v.Line, v.Column, path, "must be at least 1, got %s", deref(v).Value)
		return 0, false
	}
	if mag > math.MaxInt {
		p.add(v.Line, v.Column, path, "integer %s is out of range", deref(v).Value)
		return 0, false
	}
	return int(mag), true
}

// between returns the integer v as an int, which must be in [lo, hi],
// where 0 <= lo <= hi.
func (p *parser) between(path string, v *yaml.Node, lo, hi int) (int, bool) {
	neg, mag, ok := p.integer(path, v)
	if !ok {
		return 0, false
	}
	if neg || mag < uint64(lo) || mag > uint64(hi) {
		p.add(v.Line, v.Column, path, "must be between %d and %d, got %s", lo, hi, deref(v).Value)
		return 0, false
	}
	return int(mag), true
}

// natural returns the integer v as an int, which must be >= 0.
func (p *parser) natural(path string, v *yaml.Node) (int, bool) {
	n, ok := p.uint(path, v)
	if ok && n > math.MaxInt {
		p.add(v.Line, v.Column, path, "integer %s is out of range", deref(v).Value)
		return 0, false
	}
	return int(n), ok
}

// uint returns the integer v as a uint64, which must be >= 0.
func (p *parser) uint(path string, v *yaml.Node) (uint64, bool) {
	neg, mag, ok := p.integer(path, v)
	if !ok {
		return 0, false
	}
	if neg {
		p.add(v.Line, v.Column, path, "must not be negative, got %s", deref(v).Value)
		return 0, false
	}
	return mag, true
}

// float returns the finite number v (an integer or a float).
func (p *parser) float(path string, v *yaml.Node) (float64, bool) {
	d := p.scalar(path, v, "a number")
	if d == nil {
		return 0, false
	}
	if tag := d.ShortTag(); tag != tagFloat && tag != tagInt {
		p.add(v.Line, v.Column, path, "expected a number, got %s", describe(v))
		return 0, false
	}
	var f float64
	if err := d.Decode(&f); err != nil {
		p.add(v.Line, v.Column, path, "invalid number %q", d.Value)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.add(v.Line, v.Column, path, "must be a finite number, got %s", d.Value)
		return 0, false
	}
	return f, true
}

// boolean returns the boolean v (true or false).
func (p *parser) boolean(path string, v *yaml.Node) (bool, bool) {
	d := p.scalar(path, v, "true or false")
	if d == nil {
		return false, false
	}
	if d.ShortTag() != tagBool {
		p.add(v.Line, v.Column, path, "expected true or false, got %s", describe(v))
		return false, false
	}
	var b bool
	if err := d.Decode(&b); err != nil {
		p.add(v.Line, v.Column, path, "invalid boolean %q", d.Value)
		return false, false
	}
	return b, true
}
