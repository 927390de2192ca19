// Command peer runs a Dispersy peer or bootstrap tracker on real UDP.
//
//	peer tracker --listen 0.0.0.0:6421
//	peer run --listen 0.0.0.0:7759 --tracker 192.0.2.1:6421 --community NAME_OR_40_HEX
//
// It walks the community over real UDP with the same protocol code the
// simulator runs, and logs what it finds.
package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/realnet"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(2)
	}
}

const usage = `usage:
  peer tracker --listen ADDR
  peer run --listen ADDR --tracker ADDR [--tracker ADDR ...] --community ID`

type trackerList []netip.AddrPort

func (t *trackerList) String() string { return fmt.Sprint(*t) }
func (t *trackerList) Set(s string) error {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("tracker address %q: want IPv4:port", s)
	}
	if !a.Addr().Unmap().Is4() || a.Port() == 0 {
		return fmt.Errorf("tracker address %q: want an IPv4 address and a non-zero port", s)
	}
	*t = append(*t, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()))
	return nil
}

// parseCommunity takes a 40-hex-digit community id, or any other text whose
// SHA-1 becomes the id (so peers can agree on a name).
func parseCommunity(s string) (wire.CID, error) {
	var cid wire.CID
	if s == "" {
		return cid, errors.New("--community is required")
	}
	if len(s) == 2*wire.CIDLen {
		if b, err := hex.DecodeString(s); err == nil {
			copy(cid[:], b)
			return cid, nil
		}
	}
	return wire.CID(sha1.Sum([]byte(s))), nil
}

func run(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("peer "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "UDP address to listen on (IPv4:port)")
	var trackers trackerList
	var community, logLevel string
	var walk time.Duration
	var fast bool
	var statusEvery time.Duration
	fs.StringVar(&logLevel, "log", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&walk, "walk-interval", 5*time.Second, "walk step; other durations keep Dispersy's ratios to it")
	switch cmd {
	case "tracker":
		if *listen == "" {
			*listen = "0.0.0.0:6421"
		}
	case "run":
		fs.Var(&trackers, "tracker", "bootstrap tracker IPv4:port (repeatable)")
		fs.StringVar(&community, "community", "", "community id: 40 hex digits, or a name hashed with SHA-1")
		fs.BoolVar(&fast, "fast-walker", true, "Dispersy's fast candidate walker at start")
		fs.DurationVar(&statusEvery, "status", 30*time.Second, "log the candidate table this often (0: never)")
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *listen == "" {
		return errors.New("--listen is required")
	}
	if walk <= 0 {
		return fmt.Errorf("--walk-interval must be > 0, got %v", walk)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log %q: %w", logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := protocol.DefaultConfig().Scaled(float64(walk) / float64(5*time.Second))
	pc := realnet.PeerConfig{Listen: *listen, Config: cfg, Logger: log}
	if cmd == "tracker" {
		pc.Tracker = true
	} else {
		cid, err := parseCommunity(community)
		if err != nil {
			return err
		}
		if len(trackers) == 0 {
			return errors.New("at least one --tracker is required")
		}
		pc.Config.FastWalker = fast
		pc.Trackers = trackers
		pc.Communities = []wire.CID{cid}
		log.Info("community", "id", hex.EncodeToString(cid[:]), "given", strings.TrimSpace(community))
	}
	p, err := realnet.NewPeer(pc)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "run" && statusEvery > 0 {
		go reportStatus(ctx, p, pc.Communities[0], statusEvery, log)
	}
	return p.Run(ctx)
}

func reportStatus(ctx context.Context, p *realnet.Peer, cid wire.CID, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = p.Do(func(n *protocol.Node) {
			c := n.Community(cid)
			if c == nil {
				return
			}
			counts := map[protocol.Category]int{}
			for _, x := range c.Candidates() {
				counts[x.Category(n.Now(), n.Config())]++
			}
			log.Info("status", "wan", n.WAN().String(), "connection", n.ConnType().String(),
				"walk", counts[protocol.CategoryWalk], "stumble", counts[protocol.CategoryStumble],
				"intro", counts[protocol.CategoryIntro], "discovered", counts[protocol.CategoryDiscovered])
		})
	}
}
