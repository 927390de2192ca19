// Package archtest enforces the project's architecture rules (the spine of
// shared/DESIGN.md §1) over the source tree: the protocol core does no I/O,
// reads no clock, uses no global randomness and starts no goroutine, and
// the simulator packages stay deterministic.
package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/dispersy-go/dispersy"

// rule says what a directory tree may not do.
type rule struct {
	dir            string
	bannedImports  []string // exact import paths
	bannedPrefixes []string // import path prefixes (module packages)
	noGoroutines   bool
	noClock        bool // time.Now, time.Sleep, timers reading the wall clock
	noGlobalRand   bool // top-level math/rand/v2 functions
}

var clockFuncs = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true}

// allowedRand are the math/rand/v2 package-level names that do not touch
// the global source.
var allowedRand = map[string]bool{"New": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
	"Rand": true, "Source": true, "PCG": true, "ChaCha8": true, "Zipf": true}

func rules() []rule {
	return []rule{
		{
			dir:           "protocol",
			bannedImports: []string{"net", "os", "os/exec", "syscall", "math/rand", "crypto/rand", "unsafe"},
			bannedPrefixes: []string{module + "/simnet", module + "/realnet", module + "/natmodels",
				module + "/scenarios", module + "/cmd"},
			noGoroutines: true, noClock: true, noGlobalRand: true,
		},
		{
			dir:            "natmodels",
			bannedImports:  []string{"net", "os", "math/rand", "crypto/rand"},
			bannedPrefixes: []string{module + "/simnet", module + "/realnet", module + "/protocol", module + "/cmd"},
			noGoroutines:   true, noClock: true, noGlobalRand: true,
		},
		{
			dir:            "simnet",
			bannedImports:  []string{"net", "os", "math/rand", "crypto/rand"},
			bannedPrefixes: []string{module + "/realnet", module + "/cmd"},
			noGoroutines:   true, noClock: true, noGlobalRand: true,
		},
	}
}

func TestArchitecture(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules() {
		var violations []string
		files := 0
		err := filepath.WalkDir(filepath.Join(root, r.dir), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			files++
			rel, _ := filepath.Rel(root, path)
			violations = append(violations, checkFile(path, rel, r)...)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", r.dir, err)
		}
		if files == 0 {
			t.Errorf("%s: no Go files found; the rule checks nothing", r.dir)
		}
		for _, v := range violations {
			t.Error(v)
		}
	}
}

func checkFile(path, rel string, r rule) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", rel, err)}
	}
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", fset.Position(n.Pos()).String()[len(path)-len(rel):], fmt.Sprintf(format, args...)))
	}
	names := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		for _, b := range r.bannedImports {
			if p == b {
				report(imp, "%s may not import %q", r.dir, p)
			}
		}
		for _, b := range r.bannedPrefixes {
			if p == b || strings.HasPrefix(p, b+"/") {
				report(imp, "%s may not import %q", r.dir, p)
			}
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if p == "math/rand/v2" {
			name = "rand"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GoStmt:
			if r.noGoroutines {
				report(x, "%s may not start goroutines", r.dir)
			}
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			if !ok {
				return true
			}
			switch names[id.Name] {
			case "time":
				if r.noClock && clockFuncs[x.Sel.Name] {
					report(x, "%s may not use time.%s (time comes from the driver)", r.dir, x.Sel.Name)
				}
			case "math/rand/v2":
				if r.noGlobalRand && !allowedRand[x.Sel.Name] {
					report(x, "%s may not use the global rand.%s (use a seeded *rand.Rand)", r.dir, x.Sel.Name)
				}
			}
		}
		return true
	})
	return out
}

// TestCheckerCatches proves the checker is not vacuous: a file breaking
// every rule yields one violation per break.
func TestCheckerCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package bad

import (
	"net"
	"math/rand/v2"
	"time"
	"` + module + `/simnet"
)

var _ = net.IPv4len
var _ = simnet.X

func f() {
	_ = time.Now()
	_ = rand.IntN(3)
	_ = rand.New(rand.NewPCG(1, 2))
	go f()
}
`
	path := filepath.Join(dir, "bad.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := checkFile(path, "bad.go", rules()[0])
	want := []string{"may not import \"net\"", "simnet", "time.Now", "rand.IntN", "goroutines"}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("violation %d = %q, want it to mention %q", i, got[i], w)
		}
	}
}
