package main

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/dispersy-go/dispersy/runner"
)

// Plot size in inches.
const (
	plotWidth  = 7 * vg.Inch
	plotHeight = 4 * vg.Inch
)

// palette gives distinguishable line colours.
var palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

// series is one named line of a plot.
type series struct {
	name string
	xy   plotter.XYs
}

// linePlot saves a plot of lines to path.
func linePlot(path, title, xlabel, ylabel string, lines []series, ymin, ymax *float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	for i, s := range lines {
		if len(s.xy) == 0 {
			continue
		}
		if _, err := addLine(p, s.name, s.xy, i); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	// Fractions rise to 1 and stay there: the legend goes bottom right,
	// where the lines have left; counts and delays keep it top right.
	p.Legend.Top = ymax == nil || *ymax > 1.5
	if ymin != nil {
		p.Y.Min = *ymin
	}
	if ymax != nil {
		p.Y.Max = *ymax
	}
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// addLine adds line number i of a plot, in its palette colour, with a
// legend entry when it has a name.
func addLine(p *plot.Plot, name string, xy plotter.XYs, i int) (*plotter.Line, error) {
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	l.Color = palette[i%len(palette)]
	l.Width = vg.Points(1.5)
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	return l, nil
}

// cdf returns the empirical distribution function of sorted values as a
// step line.
func cdf(sorted []float64) plotter.XYs {
	n := float64(len(sorted))
	xy := make(plotter.XYs, 0, 2*len(sorted))
	for i, v := range sorted {
		xy = append(xy, plotter.XY{X: v, Y: float64(i) / n}, plotter.XY{X: v, Y: float64(i+1) / n})
	}
	return xy
}

// histCDF returns the distribution function of a histogram of bins of
// width bin (in the x unit), at each bin's upper edge.
func histCDF(h []int64, bin float64) plotter.XYs {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return nil
	}
	xy := plotter.XYs{{X: 0, Y: 0}}
	cum := int64(0)
	for i, c := range h {
		if c == 0 {
			continue
		}
		cum += c
		xy = append(xy, plotter.XY{X: float64(i+1) * bin, Y: float64(cum) / float64(n)})
	}
	return xy
}

// writePlots writes the run's PNG plots into dir and returns their paths.
func writePlots(dir string, s *runner.Summary) ([]string, error) {
	zero, one := 0.0, 1.02
	var files []string
	add := func(name string, f func(path string) error) error {
		path := filepath.Join(dir, name)
		if err := f(path); err != nil {
			return err
		}
		files = append(files, path)
		return nil
	}
	pts := s.Series
	if len(pts) > 0 {
		var cov, conn, online, delivered, drops plotter.XYs
		peers := float64(s.Nodes)
		for _, p := range pts {
			peers = max(peers, float64(p.Online))
		}
		for _, p := range pts {
			t := p.T.Seconds()
			if s.Sync.Messages > 0 {
				cov = append(cov, plotter.XY{X: t, Y: p.Coverage})
			}
			conn = append(conn, plotter.XY{X: t, Y: p.Connected})
			online = append(online, plotter.XY{X: t, Y: float64(p.Online) / peers})
			delivered = append(delivered, plotter.XY{X: t, Y: p.DeliveredPerSecond})
			drops = append(drops, plotter.XY{X: t, Y: p.DropsPerSecond})
		}
		err := add("timeseries.png", func(path string) error {
			return linePlot(path, s.Scenario+": coverage, walker and churn over time", "virtual time (s)", "fraction",
				[]series{{"sync coverage (online peers)", cov}, {"connected (online peers)", conn},
					{fmt.Sprintf("online (of %.0f)", peers), online}}, &zero, &one)
		})
		if err != nil {
			return nil, err
		}
		err = add("traffic.png", func(path string) error {
			return linePlot(path, s.Scenario+": packets per virtual second", "virtual time (s)", "packets / s",
				[]series{{"delivered", delivered}, {"dropped", drops}}, &zero, nil)
		})
		if err != nil {
			return nil, err
		}
	}
	if h := s.Sync.DelayHistogram; len(h) > 0 {
		err := add("cdf-delivery.png", func(path string) error {
			return linePlot(path, s.Scenario+": delay from publish to store, per (peer, message)", "delay (s)", "CDF",
				[]series{{"", histCDF(h, runner.DelayBin.Seconds())}}, &zero, &one)
		})
		if err != nil {
			return nil, err
		}
	}
	if v := s.Walker.Verified; len(v) > 0 {
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		err := add("cdf-candidates.png", func(path string) error {
			return linePlot(path, s.Scenario+": verified candidates per online peer at the end", "walk + stumble candidates", "CDF",
				[]series{{"", cdf(f)}}, &zero, &one)
		})
		if err != nil {
			return nil, err
		}
	}
	if ss := s.Churn.Sessions; len(ss) > 0 {
		err := add("cdf-sessions.png", func(path string) error {
			return linePlot(path, s.Scenario+": length of the sessions that ended", "session (s)", "CDF",
				[]series{{"", cdf(ss)}}, &zero, &one)
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}
