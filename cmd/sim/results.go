package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dispersy-go/dispersy/runner"
)

// Generated blocks of results/README.md: everything between
//
//	<!-- BEGIN GENERATED NAME -->
//	<!-- END GENERATED NAME -->
//
// is rewritten by `sim results`; everything else is prose and stays.
const (
	beginMark = "<!-- BEGIN GENERATED "
	endMark   = "<!-- END GENERATED "
	markTail  = " -->"
)

// resultsCmd is `sim results [--dir results]`: it rewrites the generated
// blocks of DIR/README.md from the summaries, benchmark objects and sweeps
// found in DIR.
func (e *env) resultsCmd(args []string) error {
	fs := flag.NewFlagSet("sim results", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "results", "the results directory")
	file, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if file != "" {
		return fmt.Errorf("unexpected argument %q\n%s", file, usage)
	}
	readme := filepath.Join(*dir, "README.md")
	old, err := os.ReadFile(readme)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	blocks, err := resultBlocks(*dir)
	if err != nil {
		return err
	}
	out, err := fillBlocks(readme, old, blocks)
	if err != nil {
		return err
	}
	if bytes.Equal(out, old) {
		fmt.Fprintf(e.stdout, "%s is up to date\n", readme)
		return nil
	}
	if err := os.WriteFile(readme, out, 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s regenerated\n", readme)
	return nil
}

// fillBlocks replaces the content of every generated block of doc (named
// file in errors) with blocks[NAME]. A block the document marks but
// blocks lacks, a mark without its end, or a name marked twice is an
// error naming the line.
func fillBlocks(file string, doc []byte, blocks map[string]string) ([]byte, error) {
	lines := strings.SplitAfter(string(doc), "\n")
	var out strings.Builder
	seen := map[string]bool{}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		out.WriteString(l)
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, beginMark) {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(t, beginMark), markTail)
		content, ok := blocks[name]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown generated block %q (known: %s)", file, i+1, name, strings.Join(sortedKeys(blocks), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("%s:%d: block %q is generated twice", file, i+1, name)
		}
		seen[name] = true
		end := -1
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == endMark+name+markTail {
				end = j
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("%s:%d: block %q has no %s%s%s line", file, i+1, name, endMark, name, markTail)
		}
		out.WriteString(content)
		out.WriteString(lines[end])
		i = end
	}
	return []byte(out.String()), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resultBlocks renders the generated blocks from what dir holds:
// "scenarios" (every NAME/summary.json), "plots" (their PNGs),
// "bench-engine" (bench-engine/*.json) and "sweeps" (sweeps/*/sweep.md).
func resultBlocks(dir string) (map[string]string, error) {
	sums, err := filepath.Glob(filepath.Join(dir, "*", "summary.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(sums)
	var tab, plots strings.Builder
	tab.WriteString("| scenario | nodes | crypto | virtual | wall | events | events / wall s | max heap | heap / node | live / node | online at end | connected | puncture | t99 | coverage | trace hash |\n")
	tab.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, path := range sums {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var s runner.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := filepath.Base(filepath.Dir(path))
		t99, cov := "–", "–"
		if s.Sync.Messages > 0 {
			t99 = strings.TrimSuffix(secs(s.Sync.Convergence.T99), " s")
			cov = fmt.Sprintf("%.5f", s.Sync.Coverage)
		}
		online := "–"
		if s.Walker.OnlinePeers > 0 {
			online = fmt.Sprintf("%d", s.Walker.OnlinePeers)
		}
		perWall := 0.0
		if s.WallSeconds > 0 {
			perWall = float64(s.Events) / s.WallSeconds
		}
		virtual := fmt.Sprintf("%.0f s", s.VirtualSeconds)
		if s.Interrupted {
			virtual += " (interrupted)"
		}
		hash := s.TraceHash
		if len(hash) > 8 {
			hash = hash[:8] + "…"
		}
		live := "–" // summaries from before the live heap was recorded
		if s.MaxLiveHeapBytes > 0 {
			live = fmt.Sprintf("%.1f KiB", float64(s.MaxLiveHeapBytes)/1024/float64(max(1, s.Nodes+s.Trackers)))
		}
		fmt.Fprintf(&tab, "| [%s](%s/summary.json) | %d | %s | %s | %.0f s | %s | %s | %.0f MiB | %.1f KiB | %s | %s | %.4f | %.3f | %s | %s | `%s` |\n",
			name, name, s.Nodes, s.Crypto, virtual, s.WallSeconds, si(float64(s.Events)), si(perWall),
			float64(s.MaxHeapBytes)/(1<<20), float64(s.MaxHeapBytes)/1024/float64(max(1, s.Nodes+s.Trackers)),
			live, online, s.Walker.ConnectedFraction, s.Puncture.SuccessRate, t99, cov, hash)
		pngs, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.png"))
		slices.Sort(pngs)
		if len(pngs) > 0 {
			fmt.Fprintf(&plots, "\n**%s**\n\n", name)
			for _, p := range pngs {
				rel := filepath.ToSlash(filepath.Join(name, filepath.Base(p)))
				fmt.Fprintf(&plots, "![%s %s](%s)\n", name, strings.TrimSuffix(filepath.Base(p), ".png"), rel)
			}
		}
	}
	tab.WriteString("\nwall, events per wall second and heap depend on the machine and its load; " +
		"the trace hash does not: the same file and seed give it again.\n")
	bench, err := benchBlock(dir)
	if err != nil {
		return nil, err
	}
	sweeps, err := sweepsBlock(dir)
	if err != nil {
		return nil, err
	}
	if plots.Len() == 0 {
		plots.WriteString("(no plots yet)\n")
	}
	return map[string]string{"scenarios": tab.String(), "plots": plots.String(), "bench-engine": bench, "sweeps": sweeps}, nil
}

// benchBlock tabulates dir/bench-engine/*.json (one bench-engine --json
// object per file, or one per line).
func benchBlock(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "bench-engine", "*.json"))
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	var b strings.Builder
	b.WriteString("| file | nodes | virtual | events | loop wall | events / wall s | events / CPU s | max heap | heap / node |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var r benchResult
			if err := dec.Decode(&r); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return "", fmt.Errorf("%s: %w", f, err)
			}
			n++
			fmt.Fprintf(&b, "| %s | %d | %.0f s | %s | %.2f s | %s | %s | %.0f MiB | %.0f B |\n", filepath.Base(f), r.Nodes,
				r.VirtualSeconds, si(float64(r.Events)), r.WallSeconds, si(r.EventsPerSecond), si(r.EventsPerCPUSecond),
				float64(r.MaxHeapBytes)/(1<<20), float64(r.MaxHeapBytes)/float64(max(1, r.Nodes)))
		}
	}
	if n == 0 {
		return "(no bench-engine runs yet)\n", nil
	}
	return b.String(), nil
}

// sweepsBlock includes every dir/sweeps/NAME/sweep.md with its plot.
func sweepsBlock(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "sweeps", "*", "sweep.md"))
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		name := filepath.Base(filepath.Dir(f))
		fmt.Fprintf(&b, "\n**%s** ([runs.csv](sweeps/%s/runs.csv), [sweep.csv](sweeps/%s/sweep.csv))\n\n%s\n![%s](sweeps/%s/sweep.png)\n",
			name, name, name, strings.TrimSpace(string(data)), name, name)
	}
	if b.Len() == 0 {
		return "(no sweeps yet)\n", nil
	}
	return b.String(), nil
}
