package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a scenario file. Its text is
// "FILE:LINE: KEY: message", or "FILE:LINE: message" when the problem is
// not about one key (such as a YAML syntax error).
type Error struct {
	// File is the file name given to Parse or Load.
	File string
	// Line is the 1-based line of the problem; 0 when unknown.
	Line int
	// Column is the 1-based column of the problem; 0 when unknown. It orders
	// errors on one line and is not printed.
	Column int
	// Key is the dotted key path, e.g. network.latency.median; empty when
	// the problem is about the file as a whole.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error returns "FILE:LINE: KEY: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects the Errors of one file.
type problems struct {
	file string
	errs []*Error
}

// add records one problem at line:col.
func (p *problems) add(line, col int, key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Column: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems in file order, joined, or nil when there are none.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// suggest returns ` (did you mean "X"?)` for the candidate closest to s by
// edit distance, when one is close enough, or "".
func suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(s, c)
		if d <= 2 && d < len(c) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes. It
// gives up early (returning a large value) on long inputs, which are never
// close to a key anyway.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
