package emul

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/realnet"
	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
	"github.com/dispersy-go/dispersy/simnet"
)

// Options tune an emulation run.
type Options struct {
	// Seed overrides the scenario's seed when non-nil. It decides the NAT
	// assignment and the workload exactly as in the simulator, and the
	// wire's pair delays and loss draws; the peers' own randomness is
	// theirs.
	Seed *uint64
	// PeerBinary is the peer daemon to run; empty builds ./cmd/peer of
	// the module in the working directory with `go build`.
	PeerBinary string
	// Progress receives a progress line every ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Poll is how often every peer's status is read (default 1 s, 5 ms
	// per peer beyond 200 peers); the walker's bootstrap times and the
	// sync coverage have this resolution.
	Poll time.Duration
	// LogDir, if set, receives each process's log (host index and role in
	// the name) and its final status as JSON, when the run ends.
	LogDir string
	// Hook, if set, is called once every peer is up, with the run's
	// control over it (tests use it to kill a peer or pause a pair).
	Hook func(*Control)
}

// Control is a running emulation, as Options.Hook sees it.
type Control struct {
	r *emuRun
}

// RunID returns the run's "PID-START-SEQ", the middle of its namespaces'
// names.
func (c *Control) RunID() string { return c.r.plan.ID }

// Hosts returns the number of hosts (trackers first).
func (c *Control) Hosts() int { return len(c.r.plan.Hosts) }

// PID returns the process id of host i's peer or tracker.
func (c *Control) PID(i int) int { return c.r.procs[i].cmd.Process.Pid }

// RunCLI is Run for a command line: SIGINT, SIGTERM and SIGHUP stop the
// run, which then removes everything it created before returning.
func RunCLI(s *scenarios.Scenario, o Options) (*runner.Summary, *Report, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return Run(ctx, s, o)
}

// emuRun is one emulation in progress.
type emuRun struct {
	s       *scenarios.Scenario
	o       Options
	seed    uint64
	cfg     protocol.Config
	plan    *topoPlan
	topo    *topology
	delay   *delayStage
	caps    []*capture
	obs     *observer
	procs   []*proc // by host index
	dir     string
	t0      time.Time
	rep     *Report
	crashed chan error

	polls    []pollSample
	minutes  []map[string]float64 // per minute: the peers' summed counters
	connAt   []time.Duration      // per peer (node index - trackers); -1 never
	final    []*realnet.Status    // per host
	finalMet []metricSet          // per host
	pubs     []publication
	firstPub time.Time
	pubMu    sync.Mutex
	pubErrs  []error
}

// Run emulates s: every tracker and peer a real peer process in its own
// network namespace, each NATed peer behind its own router namespace whose
// kernel NAT (nftables, conntrack) is the scenario's preset, all on an
// Internet bridge whose packets wait in a userspace delay and loss stage.
// It drives the workload through the peers' control sockets for the
// scenario's duration (wall-clock time) and measures the run into the
// simulator's summary: the walker and sync blocks from what the peers
// report (status and metrics), the puncture matrix from the packets on
// each host's interface. Everything it creates is removed before it
// returns, on every path: the end, an error, a crashed peer, ctx done.
func Run(ctx context.Context, s *scenarios.Scenario, o Options) (_ *runner.Summary, _ *Report, err error) {
	if err := Check(s); err != nil {
		return nil, nil, err
	}
	if err := Preflight(); err != nil {
		return nil, nil, err
	}
	r := &emuRun{s: s, o: o, seed: s.Seed, crashed: make(chan error, 1)}
	if o.Seed != nil {
		r.seed = *o.Seed
	}
	if r.o.Poll <= 0 {
		// a status request costs the emulator about a millisecond: poll
		// hundreds of peers less often than every second
		r.o.Poll = max(time.Second, time.Duration(s.Nodes)*5*time.Millisecond)
	}
	if r.o.ProgressEvery <= 0 {
		r.o.ProgressEvery = 10 * time.Second
	}
	r.cfg = protocol.DefaultConfig()
	if err := s.ApplyOverrides(&r.cfg); err != nil {
		return nil, nil, err
	}
	lat, err := runner.LatencyOf(s.Network.Latency)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: network.latency: %w", s.File, err)
	}
	profiles, err := natmodels.Assign(s.NAT.Mix, s.Nodes, simnet.NewRand(r.seed, "nat-assign", 0))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: nat.mix: %w", s.File, err)
	}
	names := make([]string, 0, s.Trackers+s.Nodes)
	for range s.Trackers {
		names = append(names, natmodels.ProfilePublic)
	}
	names = append(names, profiles...)
	nats := make([]kernelNAT, len(names))
	for i, n := range names {
		p, _ := natmodels.LookupProfile(n)
		if s.NAT.MappingTimeout > 0 {
			p = p.WithTimeout(s.NAT.MappingTimeout)
		}
		if nats[i], err = kernelNATFor(p); err != nil {
			return nil, nil, fmt.Errorf("%s: nat.mix: %w", s.File, err)
		}
	}
	if n, err := Cleanup(); err != nil {
		return nil, nil, fmt.Errorf("removing the leftovers of killed runs: %w", err)
	} else if n > 0 {
		r.logf("removed %d namespaces left by killed runs", n)
	}
	id := runID()
	r.dir = filepath.Join(os.TempDir(), namePrefix+id)
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, nil, err
	}
	r.rep = newReport(id, names, nats)
	start := time.Now()
	defer func() {
		t := time.Now()
		if cerr := r.teardown(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		r.rep.TeardownSeconds = time.Since(t).Seconds()
		if rerr := os.RemoveAll(r.dir); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("interrupted (everything the run created is removed): %w", err)
		}
	}()
	bin := o.PeerBinary
	if bin == "" {
		if bin, err = BuildPeer(r.dir); err != nil {
			return nil, nil, err
		}
	}
	// the processes run in their own directories
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, nil, err
	}
	if r.plan, err = newPlan(id, s.Trackers, names, nats); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.File, err)
	}
	r.logf("building %d namespaces (%d hosts)", len(r.plan.namespaces()), len(r.plan.Hosts))
	r.rep.MemAvailableBefore = memAvailable()
	if r.topo, err = buildTopology(r.plan); err != nil {
		return nil, nil, err
	}
	if err := installDelayQueue(r.topo.ns(r.plan.Inet), delayQueue); err != nil {
		return nil, nil, err
	}
	if r.delay, err = startDelay(r.topo.ns(r.plan.Inet), lat, s.Network.Loss, r.seed); err != nil {
		return nil, nil, err
	}
	owner := r.plan.owner()
	r.obs = newObserver(owner, names)
	for i, h := range r.plan.Hosts {
		c, err := openCapture(r.topo.ns(h.HostNS), hostIf, i)
		if err != nil {
			return nil, nil, fmt.Errorf("host %d: %w", i, err)
		}
		r.caps = append(r.caps, c)
		go c.run(r.obs)
	}
	r.rep.SetupSeconds = time.Since(start).Seconds()
	r.logf("network up in %.1fs; starting %d trackers and %d peers", r.rep.SetupSeconds, s.Trackers, s.Nodes)
	if err := r.startAll(ctx, bin); err != nil {
		return nil, nil, err
	}
	if o.Hook != nil {
		o.Hook(&Control{r: r})
	}
	if err := r.loop(ctx); err != nil {
		return nil, nil, err
	}
	if err := r.finish(ctx); err != nil {
		return nil, nil, err
	}
	sum := r.summary()
	sum.WallSeconds = time.Since(start).Seconds()
	return sum, r.rep, nil
}

func (r *emuRun) logf(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "netns: "+format+"\n", args...)
	}
}

// BuildPeer builds the peer daemon (./cmd/peer of the module in the
// working directory) into dir with `go build` and returns its path.
func BuildPeer(dir string) (string, error) {
	out := filepath.Join(dir, "peer")
	cmd := exec.Command("go", "build", "-o", out, "github.com/dispersy-go/dispersy/cmd/peer")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the peer (go build ./cmd/peer; or pass --peer-bin): %w\n%s", err, msg)
	}
	return out, nil
}

// protocolFile writes the scenario's protocol overrides as a --protocol
// file: the peers start from the defaults the simulator starts from
// (--walk-interval 5s, --fast-walker=false) and get the same overrides
// through the same code, so both run one configuration.
func (r *emuRun) protocolFile() (string, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, ov := range r.s.Protocol {
		v := &yaml.Node{Kind: yaml.ScalarNode, Value: ""}
		if ov.Value != nil {
			c := *ov.Value
			c.Line, c.Column, c.HeadComment, c.LineComment, c.FootComment = 0, 0, "", "", ""
			v = &c
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: ov.Key}, v)
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return "", err
	}
	if len(m.Content) == 0 {
		b = nil
	}
	path := filepath.Join(r.dir, "protocol.yaml")
	return path, os.WriteFile(path, b, 0o600)
}

// communityName is hashed by the peer into the simulator's community id
// (runner.CommunityID).
const communityName = "dispersy-go simulated community"

// startAll starts the trackers, waits for them, then the peers; t0 is the
// moment the first peer starts.
func (r *emuRun) startAll(ctx context.Context, bin string) error {
	proto, err := r.protocolFile()
	if err != nil {
		return err
	}
	r.procs = make([]*proc, len(r.plan.Hosts))
	common := []string{"--walk-interval", "5s", "--protocol", proto, "--metrics", metricsAddr,
		"--log-format", "json", "--log-level", "warn"}
	var trackers []string
	for i, h := range r.plan.Hosts {
		if !h.Tracker {
			continue
		}
		dir := filepath.Join(r.dir, "t"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		sock := filepath.Join(dir, "tracker.sock")
		args := append([]string{"tracker", "--listen", h.Addr().String(), "--control", sock}, common...)
		if r.procs[i], err = startProc(r.topo.ns(h.HostNS), i, bin, args, dir, sock); err != nil {
			return fmt.Errorf("tracker %d: %w", i, err)
		}
		trackers = append(trackers, "--tracker", h.Addr().String())
	}
	for i, h := range r.plan.Hosts {
		if h.Tracker {
			if err := r.procs[i].waitReady(ctx, 10*time.Second); err != nil {
				return fmt.Errorf("tracker %d: %w", i, err)
			}
		}
	}
	r.t0 = time.Now()
	r.obs.begin(r.t0, r.s.Duration)
	for i, h := range r.plan.Hosts {
		if h.Tracker {
			continue
		}
		dir := filepath.Join(r.dir, "h"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		sock := filepath.Join(dir, "peer.sock")
		args := append([]string{"run", "--listen", h.Addr().String(), "--community", communityName,
			"--data", dir, "--control", sock, "--fast-walker=false"}, common...)
		args = append(args, trackers...)
		if r.procs[i], err = startProc(r.topo.ns(h.HostNS), i, bin, args, dir, sock); err != nil {
			return fmt.Errorf("peer %d: %w", i, err)
		}
	}
	// a thousand peers starting at once on two cores take a while
	ready := 30*time.Second + time.Duration(len(r.procs))*50*time.Millisecond
	for i, p := range r.procs {
		if err := p.waitReady(ctx, ready); err != nil {
			return fmt.Errorf("host %d (%s): %w", i, r.plan.Hosts[i].Profile, err)
		}
	}
	r.rep.StartSeconds = time.Since(r.t0).Seconds()
	r.logf("%d processes up in %.1fs", len(r.procs), r.rep.StartSeconds)
	return nil
}

// teardown stops every process, the captures and the delay stage, and
// deletes every namespace. It is safe on a half-built run.
func (r *emuRun) teardown() error {
	var wg sync.WaitGroup
	for _, p := range r.procs {
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(3 * time.Second) }()
		}
	}
	wg.Wait()
	var errs []error
	if r.o.LogDir != "" && len(r.procs) > 0 {
		errs = append(errs, r.saveLogs())
	}
	for _, c := range r.caps {
		c.close()
	}
	if r.delay != nil {
		r.delay.close()
	}
	if r.topo != nil {
		errs = append(errs, r.topo.close())
	}
	return errors.Join(errs...)
}

// saveLogs copies every process's log and final status into LogDir.
func (r *emuRun) saveLogs() error {
	if err := os.MkdirAll(r.o.LogDir, 0o755); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	for i, p := range r.procs {
		if p == nil {
			continue
		}
		h := r.plan.Hosts[i]
		name := fmt.Sprintf("%s%d-%s", map[bool]string{true: "tracker", false: "peer"}[h.Tracker], i, h.Profile)
		if b, err := os.ReadFile(p.log); err == nil {
			if err := os.WriteFile(filepath.Join(r.o.LogDir, name+".log"), b, 0o644); err != nil {
				return err
			}
		}
		if i < len(r.final) && r.final[i] != nil {
			b, _ := json.MarshalIndent(r.final[i], "", "  ")
			if err := os.WriteFile(filepath.Join(r.o.LogDir, name+".status.json"), append(b, '\n'), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// publication is one message of the workload.
type publication struct {
	at      time.Duration
	from    int // peer index (0 = first peer)
	message string
	payload []byte
}

// schedule lays out the workload as the simulator does: the same peers
// and payloads from the same random streams.
func (r *emuRun) schedule() []publication {
	var out []publication
	for ei, ev := range r.s.Workload {
		if ev.Publish == nil {
			continue
		}
		p := *ev.Publish
		rng := simnet.NewRand(r.seed, "workload", ei)
		step := time.Duration(0)
		if p.Rate > 0 {
			step = time.Duration(float64(time.Second) / p.Rate)
		}
		for k := 0; k < p.Count; k++ {
			from := p.From
			if from == scenarios.FromRandom {
				from = rng.IntN(r.s.Nodes)
			}
			payload := make([]byte, p.Size)
			runner.FillPayload(payload, rng)
			out = append(out, publication{at: ev.At + time.Duration(k)*step, from: from, message: p.Message, payload: payload})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// publishAll publishes the workload on time through the control sockets.
func (r *emuRun) publishAll(ctx context.Context, pubs []publication) {
	for _, p := range pubs {
		wait := time.Until(r.t0.Add(p.at))
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		pr := r.procs[r.s.Trackers+p.from]
		t := time.Now()
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pr.control.Publish(c, realnet.PublishRequest{Message: p.message, Payload: p.payload})
		cancel()
		r.pubMu.Lock()
		if err != nil {
			r.pubErrs = append(r.pubErrs, fmt.Errorf("publish from peer %d: %w", p.from, err))
		} else {
			if r.firstPub.IsZero() {
				r.firstPub = t
			}
			r.pubs = append(r.pubs, p)
		}
		r.pubMu.Unlock()
	}
}

// pollSample is every peer's state at one poll.
type pollSample struct {
	t         time.Duration // since t0
	stored    []int         // per peer: stored workload messages
	connected []bool        // per peer
}

// loop runs the scenario's duration: the workload, a poll of every peer
// each Poll, the metrics each minute, progress lines; it stops early when
// ctx is done or a peer dies.
func (r *emuRun) loop(ctx context.Context) error {
	n := r.s.Nodes
	r.connAt = make([]time.Duration, n)
	for i := range r.connAt {
		r.connAt[i] = -1
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pubDone sync.WaitGroup
	pubDone.Add(1)
	go func() { defer pubDone.Done(); r.publishAll(pctx, r.schedule()) }()
	defer pubDone.Wait()

	end := r.t0.Add(r.s.Duration)
	nextMinute := r.t0.Add(time.Minute)
	nextProgress := r.t0.Add(r.o.ProgressEvery)
	tick := time.NewTicker(r.o.Poll)
	defer tick.Stop()
	for {
		if err := r.checkCrash(); err != nil {
			return err
		}
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		smp := r.poll(ctx, now.Sub(r.t0))
		r.polls = append(r.polls, smp)
		if !now.Before(nextMinute) {
			r.minutes = append(r.minutes, r.scrapeSum(ctx))
			nextMinute = nextMinute.Add(time.Minute)
		}
		if !now.Before(nextProgress) {
			r.sampleMemory()
			nextProgress = nextProgress.Add(r.o.ProgressEvery)
			conn, stored := 0, 0
			for i := range n {
				if smp.connected[i] {
					conn++
				}
				stored += smp.stored[i]
			}
			q, pa, d, _ := r.delay.stats()
			r.logf("%5.0fs / %.0fs  connected %d/%d  stored %d  wire: %d queued, %d passed, %d lost  processes' memory (PSS) %.0f MiB",
				now.Sub(r.t0).Seconds(), r.s.Duration.Seconds(), conn, n, stored, q, pa, d, float64(r.rep.PeersPSSMax)/(1<<20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-r.crashed:
			return err
		case <-tick.C:
		}
	}
}

// checkCrash fails the run when a process died that was not asked to.
func (r *emuRun) checkCrash() error {
	for i, p := range r.procs {
		if gone, crashed := p.exited(); gone && crashed {
			h := r.plan.Hosts[i]
			return fmt.Errorf("%w: host %d (%s, %s, pid %d) exited: %v; its last log lines:\n%s",
				errCrashed, i, h.Profile, h.LAN, p.cmd.Process.Pid, p.waitErr, p.tail(5))
		}
	}
	return nil
}

// poll reads every peer's status, a few at a time.
func (r *emuRun) poll(ctx context.Context, t time.Duration) pollSample {
	n := r.s.Nodes
	smp := pollSample{t: t, stored: make([]int, n), connected: make([]bool, n)}
	sts := r.statusAll(ctx)
	for i := range n {
		st := sts[r.s.Trackers+i]
		if st == nil {
			if len(r.polls) > 0 { // a missed answer: keep the last one
				prev := r.polls[len(r.polls)-1]
				smp.stored[i], smp.connected[i] = prev.stored[i], prev.connected[i]
			}
			r.rep.StatusMisses++
			continue
		}
		smp.stored[i] = storedOf(st)
		smp.connected[i] = connectedOf(st)
		if smp.connected[i] && r.connAt[i] < 0 {
			r.connAt[i] = t
		}
	}
	return smp
}

// statusAll reads every host's status (nil where it did not answer).
func (r *emuRun) statusAll(ctx context.Context) []*realnet.Status {
	out := make([]*realnet.Status, len(r.procs))
	r.eachProc(func(i int, p *proc) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if st, err := p.control.Status(c); err == nil {
			out[i] = st
		}
	})
	return out
}

// eachProc calls f for every process, eight at a time, and waits.
func (r *emuRun) eachProc(f func(i int, p *proc)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range r.procs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i, p)
		}()
	}
	wg.Wait()
}

// storedOf counts the workload messages a peer holds (every stored type
// of the default community; the peers create nothing else).
func storedOf(st *realnet.Status) int {
	n := 0
	for _, c := range st.Communities {
		for _, m := range protocol.DefaultDefinition().Metas() {
			if m.Stored() {
				n += c.Messages[m.Name]
			}
		}
	}
	return n
}

// connectedOf reports whether a peer has a non-tracker candidate in the
// walk category, the simulator's "connected".
func connectedOf(st *realnet.Status) bool {
	for _, c := range st.Communities {
		for _, p := range c.Peers {
			if p.Category == "walk" && !p.Tracker {
				return true
			}
		}
	}
	return false
}

// finish takes the final status and metrics of every host and the NAT
// routers' counters.
func (r *emuRun) finish(ctx context.Context) error {
	r.final = r.statusAll(ctx)
	r.finalMet = r.scrapeAll(ctx)
	for i, h := range r.plan.Hosts {
		if r.final[i] == nil {
			return fmt.Errorf("host %d (%s) did not answer its final status", i, h.Profile)
		}
		if h.NATNS == "" {
			continue
		}
		in, _ := readCounter(r.topo.ns(h.NATNS), fwTable, inputCounter)
		dr, _ := readCounter(r.topo.ns(h.NATNS), fwTable, dropCounter)
		r.rep.NATUnsolicited += int64(in)
		r.rep.NATDropped += int64(dr)
		r.rep.Profiles[h.Profile].Unsolicited += int64(in)
	}
	q, pa, d, e := r.delay.stats()
	r.rep.Delay = DelayStats{Queued: q, Passed: pa, Dropped: d, Errors: e}
	r.sampleMemory()
	var cpu time.Duration
	for _, p := range r.procs {
		cpu += p.cpuTime()
	}
	r.rep.PeersCPUSeconds = cpu.Seconds()
	r.rep.EmulatorCPUSeconds = selfCPU().Seconds()
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	for _, e := range r.pubErrs {
		r.rep.PublishErrors = append(r.rep.PublishErrors, e.Error())
	}
	return nil
}

// sampleMemory records the processes' memory and the machine's
// available memory.
func (r *emuRun) sampleMemory() {
	var rss, pss int64
	for _, p := range r.procs {
		a, b := p.memory()
		rss, pss = rss+a, pss+b
	}
	r.rep.PeersRSSMax = max(r.rep.PeersRSSMax, rss)
	r.rep.PeersPSSMax = max(r.rep.PeersPSSMax, pss)
	if m := memAvailable(); m > 0 && (r.rep.MemAvailableMin == 0 || m < r.rep.MemAvailableMin) {
		r.rep.MemAvailableMin = m
	}
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// selfCPU returns this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
