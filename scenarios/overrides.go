package scenarios

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// ApplyOverrides sets the fields of the struct dst points to (typically a
// *protocol.Config) from the protocol block of s.
//
// Each override key is matched against the snake_case form of the exported
// top-level field names (WalkInterval -> walk_interval, EagerPuncture ->
// eager_puncture, IntroRequestTimeout -> intro_request_timeout, MaxUDPSize ->
// max_udp_size); a field tag `scenario:"name"` gives a field another key and
// `scenario:"-"` hides it. Supported field kinds, named types included:
// time.Duration (a Go duration string, >= 0), bool (true or false), every
// int and uint kind (range-checked), float32 and float64 (finite), and
// string.
//
// It is all-or-nothing: every override is checked first and, when any key
// is unknown or any value bad, it returns all the problems (each an *Error
// naming the file, the line and "protocol.KEY", joined in file order) and
// leaves *dst untouched.
func (s *Scenario) ApplyOverrides(dst any) error {
	rv := reflect.ValueOf(dst)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("scenarios: ApplyOverrides needs a non-nil pointer to a struct, got %T", dst)
	}
	st := rv.Elem()
	keys, index := overrideKeys(st.Type())
	p := &parser{problems{file: s.File}}
	type assignment struct {
		field, value reflect.Value
	}
	var todo []assignment
	for _, o := range s.Protocol {
		path := joinPath("protocol", o.Key)
		i, ok := index[o.Key]
		if !ok {
			p.add(o.Line, 0, path, "unknown protocol setting %q%s; known settings: %s",
				o.Key, suggest(o.Key, keys), strings.Join(keys, ", "))
			continue
		}
		f := st.Field(i)
		if v, ok := p.convert(path, o, f.Type()); ok {
			todo = append(todo, assignment{f, v})
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	for _, a := range todo {
		a.field.Set(a.value)
	}
	return nil
}

// overrideKeys returns the keys of the settable fields of struct type t in
// field order, and the field index of each key.
func overrideKeys(t reflect.Type) ([]string, map[string]int) {
	var keys []string
	index := make(map[string]int)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		key := snakeCase(f.Name)
		if tag, ok := f.Tag.Lookup("scenario"); ok {
			if tag == "-" {
				continue
			}
			key = tag
		}
		if _, dup := index[key]; dup {
			continue // the first field with a key wins
		}
		index[key] = i
		keys = append(keys, key)
	}
	return keys, index
}

// convert turns the override o into a value of type t, or reports why not.
func (p *parser) convert(path string, o Override, t reflect.Type) (reflect.Value, bool) {
	// Report at the key's line: an aliased value's own node sits elsewhere.
	v := &yaml.Node{Kind: yaml.ScalarNode, Line: o.Line}
	if o.Value != nil {
		c := *o.Value
		c.Line, c.Column = o.Line, 0
		v = &c
	}
	out := reflect.New(t).Elem()
	if t == reflect.TypeFor[time.Duration]() {
		d, ok := p.duration(path, v, false)
		out.SetInt(int64(d))
		return out, ok
	}
	switch t.Kind() {
	case reflect.Bool:
		b, ok := p.boolean(path, v)
		out.SetBool(b)
		return out, ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		neg, mag, ok := p.integer(path, v)
		if !ok {
			return out, false
		}
		lo, hi := int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1
		if neg && mag > uint64(-(lo+1))+1 || !neg && mag > uint64(hi) {
			p.add(v.Line, v.Column, path, "%s is out of range for %s [%d, %d]", v.Value, t, lo, hi)
			return out, false
		}
		x := int64(mag)
		if neg {
			x = int64(-mag) // two's complement: also right for the minimum
		}
		out.SetInt(x)
		return out, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		neg, mag, ok := p.integer(path, v)
		if !ok {
			return out, false
		}
		hi := uint64(math.MaxUint64) >> (64 - t.Bits())
		if neg || mag > hi {
			p.add(v.Line, v.Column, path, "%s is out of range for %s [0, %d]", v.Value, t, hi)
			return out, false
		}
		out.SetUint(mag)
		return out, true
	case reflect.Float32, reflect.Float64:
		f, ok := p.float(path, v)
		if !ok {
			return out, false
		}
		if out.OverflowFloat(f) {
			p.add(v.Line, v.Column, path, "%s is out of range for %s", v.Value, t)
			return out, false
		}
		out.SetFloat(f)
		return out, true
	case reflect.String:
		str, ok := p.str(path, v)
		out.SetString(str)
		return out, ok
	}
	p.add(v.Line, v.Column, path, "setting of type %s cannot be set from a scenario", t)
	return out, false
}

// snakeCase turns a Go field name into its scenario key: WalkInterval ->
// walk_interval, MaxUDPSize -> max_udp_size. An underscore goes before an
// upper-case letter that follows a lower-case letter or a digit, or that
// starts a new word after an acronym.
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
