package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/simnet"
)

// writeOutputs writes summary.json, timeseries.csv, coverage.csv (when the
// run published) and, with plots, the PNG plots into dir. It returns the
// files written besides summary.json.
func writeOutputs(dir string, sum *runner.Summary, plots bool) ([]string, error) {
	if sum.WallSeconds > 0 {
		sum.DeliveredPerWallSecond = float64(sum.PacketsDelivered) / sum.WallSeconds
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	var files []string
	write := func(name string, data string) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files = append(files, path)
		return nil
	}
	if err := write("timeseries.csv", timeSeriesCSV(sum.Series)); err != nil {
		return nil, err
	}
	if len(sum.Sync.CoverageSeries) > 0 {
		if err := write("coverage.csv", coverageCSV(sum.Sync.CoverageSeries)); err != nil {
			return nil, err
		}
	}
	if plots {
		ps, err := writePlots(dir, sum)
		if err != nil {
			return nil, err
		}
		files = append(files, ps...)
	}
	return files, nil
}

// timeSeriesCSV renders the time series: one line per sample.
func timeSeriesCSV(pts []runner.TimePoint) string {
	var b strings.Builder
	b.WriteString("t_seconds,online,coverage,connected_fraction,mean_verified_candidates,published," +
		"sent_per_s,delivered_per_s,bytes_per_s,drops_per_s")
	for r := simnet.DropReason(0); r < simnet.NumDropReasons; r++ {
		fmt.Fprintf(&b, ",drop_%s_per_s", r)
	}
	b.WriteString(",events_per_s\n")
	for _, p := range pts {
		fmt.Fprintf(&b, "%g,%d,%.6f,%.6f,%.3f,%d,%.1f,%.1f,%.1f,%.1f", p.T.Seconds(), p.Online, p.Coverage, p.Connected,
			p.MeanVerified, p.Published, p.SentPerSecond, p.DeliveredPerSecond, p.BytesPerSecond, p.DropsPerSecond)
		for _, d := range p.Drops {
			fmt.Fprintf(&b, ",%.1f", d)
		}
		fmt.Fprintf(&b, ",%.1f\n", p.EventsPerSecond)
	}
	return b.String()
}

// coverageCSV renders the coverage per second since the first publish.
func coverageCSV(series []float64) string {
	var b strings.Builder
	b.WriteString("seconds_since_first_publish,coverage\n")
	for i, c := range series {
		fmt.Fprintf(&b, "%d,%.6f\n", i+1, c)
	}
	return b.String()
}

// table renders a table with a header and rows.
func table(w io.Writer, header []string, rows [][]string) {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header(header)
	_ = t.Bulk(rows)
	_ = t.Render()
}

// printSummary prints the run, walker, puncture, sync and churn tables.
func printSummary(w io.Writer, s *runner.Summary) {
	run := [][]string{
		{"scenario / seed", fmt.Sprintf("%s / %d", s.Scenario, s.Seed)},
		{"nodes / trackers", fmt.Sprintf("%d / %d", s.Nodes, s.Trackers)},
		{"crypto", s.Crypto},
		{"virtual time", fmt.Sprintf("%.0f s", s.VirtualSeconds)},
		{"wall time", fmt.Sprintf("%.1f s", s.WallSeconds)},
		{"events", strconv.FormatInt(s.Events, 10)},
		{"packets sent / delivered", fmt.Sprintf("%d / %d", s.PacketsSent, s.PacketsDelivered)},
		{"dropped: loss / nat filtered / offline", fmt.Sprintf("%d / %d / %d", s.PacketsDropped["loss"],
			s.PacketsDropped["nat_filtered"], s.PacketsDropped["offline"])},
		{"delivered per wall second", fmt.Sprintf("%.0f", s.DeliveredPerWallSecond)},
		{"max heap (live after a collection)", fmt.Sprintf("%.0f MiB (%.0f MiB)", float64(s.MaxHeapBytes)/(1<<20), float64(s.MaxLiveHeapBytes)/(1<<20))},
		{"trace hash", s.TraceHash},
	}
	if s.Interrupted {
		run = append(run, []string{"interrupted", "yes: the figures cover only the virtual time reached"})
	}
	table(w, []string{"run", "value"}, run)

	wk := s.Walker
	walker := [][]string{
		{"online peers", strconv.Itoa(wk.OnlinePeers)},
		{"connected fraction", fmt.Sprintf("%.4f", wk.ConnectedFraction)},
		{"mean verified candidates", fmt.Sprintf("%.2f", wk.MeanVerifiedCandidates)},
		{"connection type accuracy", fmt.Sprintf("%.4f", wk.ConnectionTypeAccuracy)},
		{"puncture success (both ways)", fmt.Sprintf("%.4f (%d / %d)", s.Puncture.SuccessRate, s.Puncture.Overall.Successes, s.Puncture.Overall.Introductions)},
		{"walker reached by puncture", fmt.Sprintf("%.4f", s.Puncture.WalkerReachedRate)},
	}
	if c, ok := wk.ConnectSeconds["all"]; ok {
		walker = append(walker, []string{"time to connect p50 / p99 / max (never)", connectRow(c)})
	}
	if len(wk.ConnectSeconds) > 2 {
		for _, name := range slices.Sorted(maps.Keys(wk.ConnectSeconds)) {
			if name != "all" {
				walker = append(walker, []string{"time to connect: " + name, connectRow(wk.ConnectSeconds[name])})
			}
		}
	}
	table(w, []string{"walker (online peers at the end)", "value"}, walker)

	if len(s.Puncture.Pairs) > 0 {
		var rows [][]string
		for _, k := range runner.PairOrder(s.Puncture.Pairs) {
			ps := s.Puncture.Pairs[k]
			rows = append(rows, []string{k, strconv.FormatInt(ps.Introductions, 10), strconv.FormatInt(ps.Successes, 10),
				fmt.Sprintf("%.3f", ratio(ps.Successes, ps.Introductions)), fmt.Sprintf("%.3f", ratio(ps.WalkerReached, ps.Introductions))})
		}
		table(w, []string{"NAT pair", "introductions", "successes", "rate", "walker reached"}, rows)
	}

	if ss := s.Sync; ss.Messages > 0 {
		c := ss.Convergence
		rows := [][]string{{"all", strconv.Itoa(s.Nodes), secs(c.T50), secs(c.T90), secs(c.T99), secs(c.T100), fmt.Sprintf("%.6f", ss.Coverage)}}
		if len(ss.ByProfile) > 1 {
			for _, name := range slices.Sorted(maps.Keys(ss.ByProfile)) {
				ps := ss.ByProfile[name]
				pc := ps.Convergence
				rows = append(rows, []string{name, strconv.Itoa(ps.Peers), secs(pc.T50), secs(pc.T90), secs(pc.T99), secs(pc.T100),
					fmt.Sprintf("%.6f", ps.Coverage)})
			}
		}
		table(w, []string{"sync (online peers)", "peers", "t50", "t90", "t99", "t100", "coverage at end"}, rows)
		d := ss.DeliveryDelay
		rows = [][]string{
			{"messages (skipped: publisher offline)", fmt.Sprintf("%d (%d)", ss.Messages, ss.SkippedOffline)},
			{"skip curve", ss.SkipMode},
			{"delivery delay p50 / p90 / p99", fmt.Sprintf("%s / %s / %s", secs(d.P50), secs(d.P90), secs(d.P99))},
			{"bytes per node / overhead ratio", fmt.Sprintf("%.0f / %.2f", ss.BytesSentPerNode, ss.OverheadRatio)},
		}
		if m := ss.BytesPerNodeMinute; len(m) > 0 {
			rows = append(rows, []string{"bytes per node in the last minute", fmt.Sprintf("%.0f", m[len(m)-1])})
		}
		rows = append(rows,
			[]string{"duplicate deliveries", strconv.FormatInt(ss.DuplicateDeliveries, 10)},
			[]string{"bloom false positives (fill predicts; configured)", fmt.Sprintf("%.4f (%.4f; %.4f) on %d",
				ss.BloomFalsePositiveRate, ss.BloomExpectedRate, ss.BloomConfiguredRate, ss.BloomTested)})
		table(w, []string{"sync", "value"}, rows)
	}

	if c := s.Churn; c.Model != "none" || c.Crashed > 0 || c.Joins > 0 {
		table(w, []string{"churn", "value"}, [][]string{
			{"model / keep store", fmt.Sprintf("%s / %v", c.Model, c.KeepStore)},
			{"downs / ups / crashed / joined", fmt.Sprintf("%d / %d / %d / %d", c.Downs, c.Ups, c.Crashed, c.Joins)},
			{"mean session (ended)", fmt.Sprintf("%.1f s", c.MeanSessionSeconds)},
			{"online min / mean / max / end", fmt.Sprintf("%d / %.1f / %d / %d", c.OnlineMin, c.OnlineMean, c.OnlineMax, c.OnlineEnd)},
		})
	}
	for i, p := range s.Partitions {
		var rows [][]string
		for g, gs := range p.Groups {
			rows = append(rows, []string{strconv.Itoa(g + 1), strconv.Itoa(gs.Peers), strconv.Itoa(gs.Online), strconv.Itoa(gs.Messages),
				fmt.Sprintf("%.4f", gs.Coverage), fmt.Sprintf("%.4f", gs.Leaked)})
		}
		healed := "end of run"
		if p.HealedSeconds != nil {
			healed = fmt.Sprintf("%.0f s", *p.HealedSeconds)
		}
		table(w, []string{fmt.Sprintf("partition %d (%.0f s to %s)", i+1, p.AtSeconds, healed), "peers", "online", "messages",
			"coverage in group", "leaked from others"}, rows)
	}
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// connectRow renders bootstrap-time quantiles.
func connectRow(c runner.ConnectTimes) string {
	return fmt.Sprintf("%s / %s / %s (%d)", secs(c.P50), secs(c.P99), secs(c.Max), c.Never)
}

func secs(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1f s", *v)
}
