// Command peer runs a Dispersy peer or bootstrap tracker on real UDP, with
// the same protocol code the simulator runs, and controls a running one.
//
//	peer keygen --out member.pem
//	peer community new --out community.pem
//	peer tracker --listen 0.0.0.0:6421
//	peer run --listen 0.0.0.0:7759 --tracker 192.0.2.1:6421 --community ID
//	peer publish --control peer-data/peer.sock "hello"
//	peer messages --control peer-data/peer.sock
//	peer status --control peer-data/peer.sock
//	peer run ... --master community.pem       (found the community: every permission)
//	peer permit --member KEY --message protected-text
//	peer revoke --member KEY --message protected-text
//	peer undo MEMBER:GLOBALTIME
//	peer destroy --yes
//
// Run `peer help` for every command and `peer COMMAND --help` for its flags.
package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/realnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "peer:", oneLine(err))
		os.Exit(1)
	}
}

// errUsage marks errors already reported with the usage text.
var errUsage = errors.New("usage")

// oneLine joins a multi-line error into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// command is one subcommand.
type command struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet, o *options)
	run                 func(ctx context.Context, o *options, env *cliEnv) error
}

// cliEnv is the process surroundings a command gets.
type cliEnv struct {
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// options are every command's flags.
type options struct {
	config      string
	out         string
	force       bool
	listen      string
	trackers    trackerList
	communities communityList
	key         string
	data        string
	control     string
	metrics     string
	logFormat   string
	logLevel    string
	walk        time.Duration
	protocol    string
	fastWalker  bool
	cleanup     time.Duration
	flushDelay  time.Duration
	community   string
	message     string
	since       uint64
	json        bool
	member      string
	permission  string
	masters     masterList
	yes         bool
}

func commands() []command {
	common := func(fs *flag.FlagSet, o *options) {
		fs.StringVar(&o.config, "config", "", "YAML file of settings (keys are these flags' names; env PEER_CONFIG)")
	}
	logging := func(fs *flag.FlagSet, o *options) {
		fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
		fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	}
	node := func(fs *flag.FlagSet, o *options, listen string) {
		common(fs, o)
		logging(fs, o)
		fs.StringVar(&o.listen, "listen", listen, "UDP address to listen on (IPv4:port)")
		fs.StringVar(&o.metrics, "metrics", "", "HTTP address for /metrics and /healthz, e.g. 127.0.0.1:9421 (off if empty)")
		fs.DurationVar(&o.walk, "walk-interval", 5*time.Second, "walk step; every other protocol duration keeps Dispersy's ratio to it")
		fs.StringVar(&o.protocol, "protocol", "", "YAML file of protocol settings by snake_case name, as a scenario's protocol block (applied after --walk-interval and --fast-walker)")
	}
	client := func(fs *flag.FlagSet, o *options) {
		common(fs, o)
		fs.StringVar(&o.data, "data", "./peer-data", "the peer's data directory (for the default --control)")
		fs.StringVar(&o.control, "control", "", "the peer's control socket (default DATA/peer.sock)")
	}
	return append([]command{
		{name: "keygen", summary: "create a member identity (ed25519 key, mode 0600) and print its member id",
			flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.out, "out", "", "key file to write (required)")
				fs.BoolVar(&o.force, "force", false, "replace an existing file")
			}, run: runKeygen},
		{name: "community new", summary: "create a community master key (mode 0600) and print the community id",
			flags: func(fs *flag.FlagSet, o *options) {
				fs.StringVar(&o.out, "out", "", "master key file to write (required)")
				fs.BoolVar(&o.force, "force", false, "replace an existing file")
			}, run: runKeygen},
		{name: "run", summary: "run a peer", flags: func(fs *flag.FlagSet, o *options) {
			node(fs, o, "0.0.0.0:7759")
			fs.Var(&o.trackers, "tracker", "bootstrap tracker IPv4:port (repeatable; required)")
			fs.Var(&o.communities, "community", "community to serve: 40 hex digits, or a name hashed with SHA-1 (repeatable; required unless --master)")
			fs.Var(&o.masters, "master", "community master key file (from peer community new): serve that community and found it, this peer's member getting every permission (repeatable)")
			fs.StringVar(&o.key, "key", "", "member key file, created if missing (default DATA/member.pem)")
			fs.StringVar(&o.data, "data", "./peer-data", "data directory: the store (peer.db), the key, the control socket")
			fs.StringVar(&o.control, "control", "", "control socket, mode 0600 (default DATA/peer.sock)")
			fs.BoolVar(&o.fastWalker, "fast-walker", true, "Dispersy's fast candidate walker at start")
			fs.DurationVar(&o.flushDelay, "flush-delay", realnet.DefaultFlushDelay, "longest wait of a received message for its commit (publishes are committed before they return)")
		}, run: func(ctx context.Context, o *options, env *cliEnv) error { return runPeer(ctx, o, env, false) }},
		{name: "tracker", summary: "run a bootstrap tracker (Dispersy's tracker: answers walkers, unloads idle communities)",
			flags: func(fs *flag.FlagSet, o *options) {
				node(fs, o, "0.0.0.0:6421")
				fs.StringVar(&o.key, "key", "", "member key file, created if missing (default: a fresh key each start, as Dispersy's tracker)")
				fs.StringVar(&o.control, "control", "", "control socket for `peer status` (off if empty)")
				fs.DurationVar(&o.cleanup, "cleanup-interval", 0, "strike interval of the unload rule (default 180s scaled like --walk-interval)")
			}, run: func(ctx context.Context, o *options, env *cliEnv) error { return runPeer(ctx, o, env, true) }},
		{name: "publish", args: "TEXT|-", summary: "publish a message (TEXT, or - for stdin); prints its id once it is durably stored",
			flags: func(fs *flag.FlagSet, o *options) {
				client(fs, o)
				fs.StringVar(&o.community, "community", "", "community id (40 hex digits or name; default: the peer's only one)")
				fs.StringVar(&o.message, "message", "text", "message type")
			}, run: runPublish},
		{name: "messages", summary: "list a community's stored messages", flags: func(fs *flag.FlagSet, o *options) {
			client(fs, o)
			fs.StringVar(&o.community, "community", "", "community id (40 hex digits or name; default: the peer's only one)")
			fs.Uint64Var(&o.since, "since", 0, "list messages with a global time above this")
			fs.BoolVar(&o.json, "json", false, "print JSON lines")
		}, run: runMessages},
		{name: "status", summary: "show a running peer's state", flags: func(fs *flag.FlagSet, o *options) {
			client(fs, o)
			fs.BoolVar(&o.json, "json", false, "print JSON")
		}, run: runStatus},
	}, permissionCommands(client)...)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: peer COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  help           this text\n\nRun `peer COMMAND --help` for a command's flags. Settings: flag > PEER_* environment > --config file > default.")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	name := args[0]
	rest := args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) == 0 {
			usage(stdout)
			return nil
		}
		// peer help COMMAND
		return run(ctx, append(rest, "--help"), stdin, stdout, stderr, environ)
	}
	if name == "community" {
		if len(rest) == 0 || rest[0] != "new" {
			return errors.New(`unknown command "community": did you mean "community new"?`)
		}
		name, rest = "community new", rest[1:]
	}
	known, cmds := knownFlags()
	cmd, ok := cmds[name]
	if !ok {
		return fmt.Errorf("unknown command %q (run `peer help`)", name)
	}
	o := &options{}
	fs := flag.NewFlagSet("peer "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cmd.flags(fs, o)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: peer %s [flags] %s\n\n%s\n\nflags (each also PEER_NAME in the environment or name: in --config):\n",
			cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	config := o.config
	if config == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "PEER_CONFIG="); ok {
				config = v
			}
		}
	}
	if fs.Lookup("config") == nil {
		config = ""
	}
	if err := applySettings(fs, known, config, environ); err != nil {
		return err
	}
	if cmd.args == "" && fs.NArg() > 0 {
		return fmt.Errorf("peer %s: unexpected argument %q", cmd.name, fs.Arg(0))
	}
	return cmd.run(ctx, o, &cliEnv{args: fs.Args(), stdin: stdin, stdout: stdout, stderr: stderr})
}

// knownFlags returns the flag names of every command, and the commands by
// name.
func knownFlags() (map[string]bool, map[string]command) {
	known := map[string]bool{}
	cmds := map[string]command{}
	for _, c := range commands() {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs, &options{})
		fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
		cmds[c.name] = c
	}
	return known, cmds
}

// counts formats a map of counts as "name n, name n" in name order.
func counts[N uint64 | int](m map[string]N) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// trackerList is the repeatable --tracker flag.
type trackerList []netip.AddrPort

func (t *trackerList) String() string { return fmt.Sprint(*t) }
func (t *trackerList) repeatable()    {}

// Set implements flag.Value.
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

// communityList is the repeatable --community flag.
type communityList []wire.CID

func (c *communityList) String() string { return fmt.Sprint(len(*c)) }
func (c *communityList) repeatable()    {}

// Set implements flag.Value.
func (c *communityList) Set(s string) error {
	cid, err := parseCommunity(s)
	if err != nil {
		return err
	}
	if !contains(*c, cid) {
		*c = append(*c, cid)
	}
	return nil
}

func contains(l []wire.CID, cid wire.CID) bool {
	for _, x := range l {
		if x == cid {
			return true
		}
	}
	return false
}

// parseCommunity takes a 40-hex-digit community id, or any other text whose
// SHA-1 becomes the id (so peers can agree on a name).
func parseCommunity(s string) (wire.CID, error) {
	var cid wire.CID
	if strings.TrimSpace(s) == "" {
		return cid, errors.New("community: empty id")
	}
	if len(s) == 2*wire.CIDLen {
		if b, err := hex.DecodeString(s); err == nil {
			copy(cid[:], b)
			return cid, nil
		}
	}
	return wire.CID(sha1.Sum([]byte(s))), nil
}

func runKeygen(_ context.Context, o *options, env *cliEnv) error {
	if o.out == "" {
		return errors.New("--out is required")
	}
	k, err := writeKey(o.out, o.force)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, idOf(k))
	return nil
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
}

func runPeer(ctx context.Context, o *options, env *cliEnv, tracker bool) error {
	log, err := newLogger(o, env.stderr)
	if err != nil {
		return err
	}
	if o.walk <= 0 {
		return fmt.Errorf("--walk-interval must be > 0, got %v", o.walk)
	}
	scale := float64(o.walk) / float64(5*time.Second)
	pc := realnet.PeerConfig{Listen: o.listen, Tracker: tracker, Logger: log,
		Config: protocol.DefaultConfig().Scaled(scale)}
	if tracker {
		pc.TrackerCleanup = o.cleanup
		if pc.TrackerCleanup == 0 {
			pc.TrackerCleanup = time.Duration(float64(protocol.DefaultTrackerCleanupInterval) * scale)
		}
		if o.key != "" {
			k, created, err := loadOrCreateKey(o.key)
			if err != nil {
				return err
			}
			if created {
				log.Info("created member key", "file", o.key)
			}
			pc.Key = k
		}
	} else {
		masters, err := loadMasters(o.masters)
		if err != nil {
			return err
		}
		if len(o.communities) == 0 && len(masters) == 0 {
			return errors.New("at least one --community (or --master) is required")
		}
		pc.Masters = masters
		if len(o.trackers) == 0 {
			return errors.New("at least one --tracker is required")
		}
		if err := os.MkdirAll(o.data, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		unlock, err := lockDir(o.data)
		if err != nil {
			return err
		}
		defer unlock()
		if o.key == "" {
			o.key = filepath.Join(o.data, "member.pem")
		}
		if o.control == "" {
			o.control = filepath.Join(o.data, "peer.sock")
		}
		k, created, err := loadOrCreateKey(o.key)
		if err != nil {
			return err
		}
		if created {
			log.Info("created member key", "file", o.key, "member", idOf(k))
		}
		pc.Key, pc.Trackers, pc.Communities = k, o.trackers, o.communities
		for _, m := range masters {
			log.Info("master key", "community", idOf(m))
		}
		pc.Config.FastWalker = o.fastWalker
		pc.StorePath = filepath.Join(o.data, "peer.db")
		pc.FlushDelay = o.flushDelay
		for _, cid := range o.communities {
			log.Info("community", "id", hex.EncodeToString(cid[:]))
		}
	}
	if o.protocol != "" {
		if err := applyProtocolFile(&pc.Config, o.protocol); err != nil {
			return err
		}
	}
	// every listener is opened before anything runs, so that a taken port
	// or socket fails at once
	var metricsL, controlL net.Listener
	if o.metrics != "" {
		if metricsL, err = net.Listen("tcp", o.metrics); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		defer metricsL.Close()
	}
	if o.control != "" {
		if controlL, err = realnet.ListenControl(o.control); err != nil {
			return err
		}
		defer controlL.Close()
	}
	p, err := realnet.NewPeer(pc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	serve := func(what string, l net.Listener, h http.Handler) {
		if l == nil {
			return
		}
		log.Info(what, "addr", l.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := realnet.Serve(ctx, l, h); err != nil {
				errs <- fmt.Errorf("%s: %w", what, err)
				cancel()
			}
		}()
	}
	serve("metrics server", metricsL, p.MetricsHandler())
	serve("control server", controlL, p.ControlHandler())
	runErr := p.Run(ctx)
	cancel()
	wg.Wait()
	close(errs)
	if runErr != nil {
		return runErr
	}
	for err := range errs {
		return err
	}
	log.Info("stopped")
	return nil
}

// lockDir takes an exclusive lock on dir (a file "lock" in it), so that two
// peers never share a store.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another peer (%s is locked)", dir, path)
	}
	return func() { f.Close() }, nil
}

func (o *options) controlPath() string {
	if o.control != "" {
		return o.control
	}
	return filepath.Join(o.data, "peer.sock")
}

// communityArg returns the --community flag as the control API wants it.
func (o *options) communityArg() (string, error) {
	if o.community == "" {
		return "", nil
	}
	cid, err := parseCommunity(o.community)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(cid[:]), nil
}

func runPublish(ctx context.Context, o *options, env *cliEnv) error {
	if len(env.args) != 1 {
		return errors.New("publish needs exactly one argument: the text, or - to read it from stdin")
	}
	payload := []byte(env.args[0])
	if env.args[0] == "-" {
		var err error
		if payload, err = io.ReadAll(io.LimitReader(env.stdin, realnet.MaxPayload+1)); err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	cid, err := o.communityArg()
	if err != nil {
		return err
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	m, err := c.Publish(ctx, realnet.PublishRequest{Community: cid, Message: o.message, Payload: payload})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, m.ID)
	return nil
}

func runMessages(ctx context.Context, o *options, env *cliEnv) error {
	cid, err := o.communityArg()
	if err != nil {
		return err
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	msgs, err := c.AllMessages(ctx, cid, o.since)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.stdout)
	for _, m := range msgs {
		if o.json {
			if err := enc.Encode(m); err != nil {
				return err
			}
			continue
		}
		text := m.Text
		if text == "" && len(m.Payload) > 0 {
			text = "0x" + hex.EncodeToString(m.Payload)
		}
		state := ""
		if m.State != "" && m.State != "in-force" {
			state = "\t" + m.State
		}
		fmt.Fprintf(env.stdout, "%s\t%s\t%s%s\n", m.ID, m.Type, strings.ReplaceAll(text, "\n", `\n`), state)
	}
	return nil
}

func runStatus(ctx context.Context, o *options, env *cliEnv) error {
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	w := env.stdout
	role := "peer"
	if st.Tracker {
		role = "tracker"
	}
	fmt.Fprintf(w, "%s %s, up %s\n", role, st.Member, st.Uptime)
	fmt.Fprintf(w, "public key %s\n", st.PublicKey)
	fmt.Fprintf(w, "lan %s  wan %s  connection %s\n", st.LAN, st.WAN, st.ConnectionType)
	fmt.Fprintf(w, "packets: received %d, accepted %d, sent %d, dropped %d\n",
		st.Packets.Received, st.Packets.Accepted, st.Packets.Sent, st.Packets.Dropped)
	if len(st.Drops) > 0 {
		fmt.Fprintf(w, "drops: %s\n", counts(st.Drops))
	}
	if st.Store.Path != "" {
		fmt.Fprintf(w, "store %s: %d commits, %d writes pending\n", st.Store.Path, st.Store.Commits, st.Store.Pending)
	}
	for _, cs := range st.Communities {
		destroyed := ""
		if cs.Destroyed {
			destroyed = " (destroyed)"
		}
		fmt.Fprintf(w, "community %s%s: global time %d, %d walk steps\n", cs.ID, destroyed, cs.GlobalTime, cs.Steps)
		fmt.Fprintf(w, "  candidates: walk %d, stumble %d, intro %d, discovered %d\n",
			cs.Candidates["walk"], cs.Candidates["stumble"], cs.Candidates["intro"], cs.Candidates["discovered"])
		if len(cs.Messages) > 0 {
			fmt.Fprintf(w, "  messages: %s\n", counts(cs.Messages))
		}
		s := cs.Sync
		fmt.Fprintf(w, "  sync: %d requests sent (%d bytes), %d answered with %d packets (%d bytes)\n",
			s.RequestsSent, s.RequestBytes, s.Answers, s.AnswerPackets, s.AnswerBytes)
	}
	return nil
}
