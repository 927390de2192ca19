package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/runner"
)

// progressBar draws one line on a terminal, redrawn in place at most every
// redrawEvery of wall time: a bar of the virtual time done, events per
// wall second over the last redraw, online peers, heap and the ETA.
type progressBar struct {
	w      io.Writer
	now    func() time.Time
	last   time.Time
	lastEv int64
	drawn  bool
	width  int
}

const redrawEvery = 200 * time.Millisecond

func newProgressBar(w io.Writer, now func() time.Time) *progressBar {
	return &progressBar{w: w, now: now, last: now(), width: 30}
}

// update is a runner.Options.OnProgress.
func (b *progressBar) update(p runner.Progress) {
	t := b.now()
	if t.Sub(b.last) < redrawEvery && p.Virtual < p.Duration {
		return
	}
	rate := float64(p.Events-b.lastEv) / t.Sub(b.last).Seconds()
	b.last, b.lastEv = t, p.Events
	frac := 0.0
	if p.Duration > 0 {
		frac = min(1, p.Virtual.Seconds()/p.Duration.Seconds())
	}
	done := int(frac * float64(b.width))
	eta := "--"
	if frac > 0 && frac < 1 {
		eta = (time.Duration(float64(p.Wall) * (1 - frac) / frac)).Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%% %6.0f/%.0f s virtual  %s ev/s  online %d  heap %.0f MiB  ETA %s \x1b[K",
		strings.Repeat("=", done), strings.Repeat(" ", b.width-done), 100*frac, p.Virtual.Seconds(), p.Duration.Seconds(),
		si(rate), p.Online, float64(p.HeapBytes)/(1<<20), eta)
	b.drawn = true
}

// done ends the bar's line.
func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// si renders x with a k, M or G suffix.
func si(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2f G", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2f M", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1f k", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
