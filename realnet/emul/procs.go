package emul

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/vishvananda/netns"

	dto "github.com/prometheus/client_model/go"

	"github.com/dispersy-go/dispersy/realnet"
)

// metricsAddr is where every peer serves /metrics, on its own namespace's
// loopback.
const metricsAddr = "127.0.0.1:9421"

// proc is one running peer or tracker process in its namespace.
type proc struct {
	host    int
	dir     string
	log     string // the process's stderr, a file in dir
	cmd     *exec.Cmd
	control *realnet.Client
	metrics *http.Client

	done    chan struct{} // closed when the process has exited
	waitErr error
	mu      sync.Mutex
	stopped bool // we asked it to stop: its exit is no crash
}

// startProc starts bin with args inside namespace ns: the child is forked
// from a thread switched into ns, so it lives there from its first
// instruction (no `ip netns exec`). It gets its own process group (a
// terminal's Ctrl-C reaches the emulator, which stops the peers in order)
// and SIGKILL when the emulator dies.
func startProc(ns netns.NsHandle, host int, bin string, args []string, dir, sock string) (*proc, error) {
	logPath := filepath.Join(dir, "stderr.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	// many peers share two cores: one P each keeps the Go runtimes from
	// fighting over them
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := inNS(ns, cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &proc{host: host, dir: dir, log: logPath, cmd: cmd, done: make(chan struct{})}
	if sock != "" {
		p.control = realnet.NewClient(sock)
	}
	p.metrics = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := inNS(ns, func() error {
				var err error
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		DisableKeepAlives: true,
	}}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process is gone, and whether that was not
// asked for.
func (p *proc) exited() (gone, crashed bool) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, !p.stopped
	default:
		return false, false
	}
}

// tail returns the last lines of the process's log.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop asks the process to shut down (SIGTERM: the peer commits its store
// and removes its socket) and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if p.control != nil {
		p.control.Close()
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady waits until the control socket answers a status request.
func (p *proc) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if gone, _ := p.exited(); gone {
			return fmt.Errorf("exited at start (%v): %s", p.waitErr, p.tail(5))
		}
		c, cancel2 := context.WithTimeout(ctx, time.Second)
		_, err := p.control.Status(c)
		cancel2()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("control socket did not answer within %v: %w", d, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// scrape reads the process's Prometheus metrics.
func (p *proc) scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.metrics.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader(body))
}

// memory returns the process's resident and proportional set sizes in
// bytes (0 once gone). The proportional size divides pages shared with
// other processes (the peer binary's text, for one) among them, so the
// peers' sum of it is what they really take.
func (p *proc) memory() (rss, pss int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/smaps_rollup")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	return rss, pss
}

// cpuTime returns the process's user+system CPU time so far (fields 14
// and 15 of /proc/PID/stat).
func (p *proc) cpuTime() time.Duration {
	f := procStat(p.cmd.Process.Pid)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// errCrashed is wrapped by the error of a run whose peer died.
var errCrashed = errors.New("a peer process died")
