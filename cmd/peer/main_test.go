package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(""), &o, &e, env)
	return o.String(), e.String(), err
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: 127.0.0.1:0\nwalk_interval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "usage"},
		{[]string{"dance"}, nil, `unknown command "dance"`},
		{[]string{"community"}, nil, `did you mean "community new"`},
		{[]string{"run", "--listen", "127.0.0.1:0", "--community", "x", "--data", dir}, nil, "at least one --tracker"},
		{[]string{"run", "--listen", "127.0.0.1:0", "--tracker", "127.0.0.1:1", "--data", dir}, nil, "at least one --community"},
		{[]string{"run", "--tracker", "nohost"}, nil, `tracker address "nohost"`},
		{[]string{"run", "--tracker", "[::1]:5"}, nil, "IPv4"},
		{[]string{"tracker", "--listen", "127.0.0.1:0", "--walk-interval", "0s"}, nil, "--walk-interval must be > 0"},
		{[]string{"tracker", "--log-level", "loud"}, nil, `--log-level "loud"`},
		{[]string{"tracker", "--log-format", "xml"}, nil, `--log-format "xml"`},
		{[]string{"tracker", "--listen", "not-an-address"}, nil, "listen"},
		{[]string{"tracker", "extra"}, nil, `unexpected argument "extra"`},
		{[]string{"keygen"}, nil, "--out is required"},
		{[]string{"status", "--config", bad}, nil, bad + `:2: unknown setting "walk_interval" (did you mean "walk-interval"?)`},
		{[]string{"status"}, []string{"PEER_LISTEN_ADDR=x"}, `environment variable PEER_LISTEN_ADDR: unknown setting`},
		{[]string{"tracker"}, []string{"PEER_WALK_INTERVAL=soon"}, `PEER_WALK_INTERVAL="soon"`},
		{[]string{"status", "--config", filepath.Join(dir, "none.yaml")}, nil, "config file"},
		{[]string{"publish", "--data", dir}, nil, "exactly one argument"},
		{[]string{"status", "--data", dir}, nil, "is the peer running?"},
	}
	for _, tc := range tests {
		_, errb, err := runCLI(t, tc.env, tc.args...)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if msg := err.Error() + errb; !strings.Contains(msg, tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.args, msg, tc.want)
		}
	}
}

// TestHelp checks that every command's --help lists every one of its flags.
func TestHelp(t *testing.T) {
	out, _, err := runCLI(t, nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out, c.name) {
			t.Errorf("peer help does not list %q", c.name)
		}
		args := append(strings.Fields(c.name), "--help")
		_, errb, err := runCLI(t, nil, args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs, &options{})
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(errb, "-"+f.Name) {
				t.Errorf("peer %s --help does not list -%s", c.name, f.Name)
			}
		})
	}
}

// TestPrecedence checks flag > environment > config file > default, for a
// single and a repeatable setting.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "peer.yaml")
	if err := os.WriteFile(cfg, []byte("walk-interval: 3s\nlisten: 127.0.0.1:3\ntracker: [127.0.0.1:30, 127.0.0.1:31]\nlog-level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     []string
		walk    time.Duration
		listen  string
		tracker int
		level   string
	}{
		{"defaults", nil, nil, 5 * time.Second, "0.0.0.0:7759", 0, "info"},
		{"file", []string{"--config", cfg}, nil, 3 * time.Second, "127.0.0.1:3", 2, "warn"},
		{"file from env", nil, []string{"PEER_CONFIG=" + cfg}, 3 * time.Second, "127.0.0.1:3", 2, "warn"},
		{"env over file", []string{"--config", cfg}, []string{"PEER_WALK_INTERVAL=2s", "PEER_TRACKER=127.0.0.1:20"}, 2 * time.Second, "127.0.0.1:3", 1, "warn"},
		{"flag over env", []string{"--config", cfg, "--walk-interval", "1s", "--tracker", "127.0.0.1:10", "--tracker", "127.0.0.1:11", "--tracker", "127.0.0.1:12"},
			[]string{"PEER_WALK_INTERVAL=2s", "PEER_TRACKER=127.0.0.1:20"}, time.Second, "127.0.0.1:3", 3, "warn"},
		{"env list", nil, []string{"PEER_TRACKER=127.0.0.1:20, 127.0.0.1:21"}, 5 * time.Second, "0.0.0.0:7759", 2, "info"},
	}
	known, cmds := knownFlags()
	runCmd := cmds["run"]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &options{}
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			runCmd.flags(fs, o)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			config := o.config
			for _, kv := range tt.env {
				if v, ok := strings.CutPrefix(kv, "PEER_CONFIG="); ok && config == "" {
					config = v
				}
			}
			if err := applySettings(fs, known, config, tt.env); err != nil {
				t.Fatal(err)
			}
			if o.walk != tt.walk || o.listen != tt.listen || len(o.trackers) != tt.tracker || o.logLevel != tt.level {
				t.Fatalf("walk %v listen %s trackers %d level %s; want %v %s %d %s",
					o.walk, o.listen, len(o.trackers), o.logLevel, tt.walk, tt.listen, tt.tracker, tt.level)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"- a\n- b\n", "f.yaml:1: want a mapping"},
		{"listen: a\nlisten: b\n", `f.yaml:2: setting "listen" given twice (first at line 1)`},
		{"listen: {a: b}\n", `f.yaml:1: setting "listen": want a value`},
		{"tracker: [[a]]\n", `f.yaml:1: setting "tracker": list items`},
		{"listen: [\n", "f.yaml"},
	}
	for _, tt := range tests {
		_, err := parseConfig("f.yaml", []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseConfig(%q) = %v, want an error containing %q", tt.data, err, tt.want)
		}
	}
	if s, err := parseConfig("f.yaml", []byte("# nothing\n")); err != nil || len(s) != 0 {
		t.Errorf("an empty file: %v, %v", s, err)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"listen: 0.0.0.0:7759\ntracker: [1.2.3.4:6421]\n", "a: [b, c]\n", "- x", "{", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := parseConfig("fuzz.yaml", data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range settings {
			if seen[s.key] {
				t.Fatalf("key %q returned twice", s.key)
			}
			seen[s.key] = true
		}
	})
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "member.pem")
	out, _, err := runCLI(t, nil, "keygen", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(id) {
		t.Fatalf("keygen printed %q, want a 40-hex-digit member id", out)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k, err := readKey(path)
	if err != nil || idOf(k) != id {
		t.Fatalf("reading the key back: %v, id %s, want %s", err, idOf(k), id)
	}
	if _, _, err := runCLI(t, nil, "keygen", "--out", path); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("keygen over an existing file: %v, want a refusal naming --force", err)
	}
	out2, _, err := runCLI(t, nil, "keygen", "--out", path, "--force")
	if err != nil || strings.TrimSpace(out2) == id {
		t.Fatalf("keygen --force: %v, id %q (old %q)", err, out2, id)
	}
	cout, _, err := runCLI(t, nil, "community", "new", "--out", filepath.Join(dir, "community.pem"))
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{40}\n$`).MatchString(cout) {
		t.Fatalf("community new: %q, %v", cout, err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readKey(garbage); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("reading a garbage key: %v", err)
	}
}

func TestParseCommunity(t *testing.T) {
	hex := "0123456789abcdef0123456789abcdef01234567"
	cid, err := parseCommunity(hex)
	if err != nil || cid[0] != 0x01 || cid[19] != 0x67 {
		t.Fatalf("hex id parsed as %x, %v", cid, err)
	}
	a, _ := parseCommunity("my-overlay")
	b, _ := parseCommunity("my-overlay")
	c, _ := parseCommunity("other")
	if a != b || a == c {
		t.Fatalf("named ids: %x %x %x", a, b, c)
	}
	if _, err := parseCommunity(" "); err == nil {
		t.Fatal("an empty community id was accepted")
	}
}

// TestDeployConfig checks that the example configuration in deploy/ is
// one `peer run` accepts.
func TestDeployConfig(t *testing.T) {
	known, cmds := knownFlags()
	runCmd := cmds["run"]
	o := &options{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	runCmd.flags(fs, o)
	if err := applySettings(fs, known, filepath.Join("..", "..", "deploy", "peer.yaml"), nil); err != nil {
		t.Fatal(err)
	}
	if o.listen != "0.0.0.0:7759" || len(o.trackers) != 1 || len(o.communities) != 1 || o.metrics == "" {
		t.Fatalf("deploy/peer.yaml gave listen %s, %d trackers, %d communities, metrics %q", o.listen, len(o.trackers), len(o.communities), o.metrics)
	}
}
