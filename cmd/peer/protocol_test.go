package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
)

func TestApplyProtocolFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, err string
		check           func(c protocol.Config) bool
	}{
		{name: "ok", body: "walk_interval: 2s\neager_puncture: true\nfast_walker: false\n",
			check: func(c protocol.Config) bool {
				return c.WalkInterval == 2*time.Second && c.EagerPuncture && !c.FastWalker
			}},
		{name: "empty", body: "", check: func(c protocol.Config) bool { return c == protocol.DefaultConfig() }},
		{name: "unknown", body: "walk_intervall: 2s\n", err: `:1: protocol.walk_intervall: unknown protocol setting`},
		{name: "bad value", body: "walk_interval: 2s\nsync_skip: maybe\n", err: ":2: protocol.sync_skip"},
		{name: "twice", body: "walk_interval: 2s\nwalk_interval: 3s\n", err: `:2: setting "walk_interval" given twice`},
		{name: "list", body: "- walk_interval\n", err: ":1: want a mapping"},
		{name: "invalid config", body: "walk_interval: 0s\n", err: "walk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			c := protocol.DefaultConfig()
			err := applyProtocolFile(&c, path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if c != protocol.DefaultConfig() {
					t.Error("a failed file changed the configuration")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("configuration %+v", c)
			}
		})
	}
}
