package scenarios

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testConfig stands in for protocol.Config.
type testConfig struct {
	WalkInterval        time.Duration
	IntroRequestTimeout time.Duration
	EagerPuncture       bool
	MaxUDPSize          int
	Fanout              int8
	Window              uint16
	Budget              uint64
	Alpha               float64
	Beta                float32
	Label               string
	Renamed             int   `scenario:"other_name"`
	Hidden              int   `scenario:"-"`
	Peers               []int // unsupported kind
	//lint:ignore U1000 present to show that unexported fields cannot be set
	unexported int
	Mode       mode   // named integer type
	Tag        myText // named string type
}

type (
	mode   uint8
	myText string
)

func baseConfig() testConfig {
	return testConfig{WalkInterval: 5 * time.Second, MaxUDPSize: 1500, Label: "base", Alpha: 0.5}
}

// parseOverrides parses a scenario whose protocol block is body.
func parseOverrides(t *testing.T, body string) *Scenario {
	t.Helper()
	s, err := Parse("o.yaml", []byte("name: o\nduration: 1m\nnodes: 1\nprotocol:\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyOverrides(t *testing.T) {
	tests := []struct {
		name, body string
		want       func(c *testConfig)
	}{
		{"none", "", func(c *testConfig) {}},
		{"duration", "  walk_interval: 2500ms\n  intro_request_timeout: 0s\n", func(c *testConfig) {
			c.WalkInterval = 2500 * time.Millisecond
			c.IntroRequestTimeout = 0
		}},
		{"bool", "  eager_puncture: true\n", func(c *testConfig) { c.EagerPuncture = true }},
		{"ints", "  max_udp_size: 65507\n  fanout: -128\n  window: 65535\n  budget: 18446744073709551615\n", func(c *testConfig) {
			c.MaxUDPSize, c.Fanout, c.Window, c.Budget = 65507, -128, 65535, 1<<64-1
		}},
		{"floats", "  alpha: 2\n  beta: 0.25\n", func(c *testConfig) { c.Alpha, c.Beta = 2, 0.25 }},
		{"string", "  label: \"hello world\"\n", func(c *testConfig) { c.Label = "hello world" }},
		{"tag", "  other_name: 7\n", func(c *testConfig) { c.Renamed = 7 }},
		{"named types", "  mode: 3\n  tag: x\n", func(c *testConfig) { c.Mode, c.Tag = 3, "x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := parseOverrides(t, tt.body)
			got, want := baseConfig(), baseConfig()
			tt.want(&want)
			if err := s.ApplyOverrides(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestApplyOverridesErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // exact error lines
	}{
		{"unknown key", "  walk_intervl: 5s\n", []string{
			`o.yaml:5: protocol.walk_intervl: unknown protocol setting "walk_intervl" (did you mean "walk_interval"?); known settings: walk_interval, intro_request_timeout, eager_puncture, max_udp_size, fanout, window, budget, alpha, beta, label, other_name, peers, mode, tag`,
		}},
		{"hidden and unexported", "  hidden: 1\n  unexported: 1\n", []string{
			`o.yaml:5: protocol.hidden: unknown protocol setting "hidden"; known settings: walk_interval, intro_request_timeout, eager_puncture, max_udp_size, fanout, window, budget, alpha, beta, label, other_name, peers, mode, tag`,
			`o.yaml:6: protocol.unexported: unknown protocol setting "unexported"; known settings: walk_interval, intro_request_timeout, eager_puncture, max_udp_size, fanout, window, budget, alpha, beta, label, other_name, peers, mode, tag`,
		}},
		{"bad duration", "  walk_interval: 5\n  intro_request_timeout: -1s\n", []string{
			`o.yaml:5: protocol.walk_interval: invalid duration "5" (want Go syntax such as 60ms, 5s or 1m30s)`,
			`o.yaml:6: protocol.intro_request_timeout: duration must not be negative, got -1s`,
		}},
		{"bad bool", "  eager_puncture: yes\n", []string{
			`o.yaml:5: protocol.eager_puncture: expected true or false, got string "yes"`,
		}},
		{"int out of range", "  fanout: 128\n  window: -1\n  max_udp_size: 1.5\n  budget: 18446744073709551616\n", []string{
			`o.yaml:5: protocol.fanout: 128 is out of range for int8 [-128, 127]`,
			`o.yaml:6: protocol.window: -1 is out of range for uint16 [0, 65535]`,
			`o.yaml:7: protocol.max_udp_size: expected an integer, got number 1.5`,
			`o.yaml:8: protocol.budget: integer 18446744073709551616 is out of range`,
		}},
		{"float", "  beta: 1e39\n  alpha: .inf\n", []string{
			`o.yaml:5: protocol.beta: 1e39 is out of range for float32`,
			`o.yaml:6: protocol.alpha: must be a finite number, got .inf`,
		}},
		{"string", "  label: 12\n", []string{
			`o.yaml:5: protocol.label: expected a string, got integer 12 (quote it to make it a string)`,
		}},
		{"unsupported kind", "  peers: 3\n", []string{
			`o.yaml:5: protocol.peers: setting of type []int cannot be set from a scenario`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A valid override first: it must not be applied either.
			s := parseOverrides(t, "  mode: 9\n"+tt.body)
			cfg := baseConfig()
			err := s.ApplyOverrides(&cfg)
			if err == nil {
				t.Fatal("no error")
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = shiftLine(t, w)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "o.yaml" || !strings.HasPrefix(e.Key, "protocol.") {
				t.Errorf("error %v is no *Error naming o.yaml and protocol.KEY", err)
			}
			if !reflect.DeepEqual(cfg, baseConfig()) {
				t.Errorf("config changed despite the error: %+v", cfg)
			}
		})
	}
}

// shiftLine adds one to the line number, for the valid override put first, of an "o.yaml:N: ..." message.
func shiftLine(t *testing.T, msg string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(msg, "o.yaml:")
	num, tail, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || len(num) != 1 {
		t.Fatalf("bad expectation %q", msg)
	}
	return "o.yaml:" + string(num[0]+1) + ":" + tail
}

func TestApplyOverridesBadTarget(t *testing.T) {
	s := parseOverrides(t, "  walk_interval: 5s\n")
	var nilCfg *testConfig
	for _, dst := range []any{nil, testConfig{}, nilCfg, new(int)} {
		if err := s.ApplyOverrides(dst); err == nil {
			t.Errorf("ApplyOverrides(%T) succeeded", dst)
		}
	}
}
