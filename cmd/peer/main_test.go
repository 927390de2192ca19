package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"dance"}, `unknown command "dance"`},
		{[]string{"run", "--listen", "127.0.0.1:0", "--community", "x"}, "at least one --tracker"},
		{[]string{"run", "--listen", "127.0.0.1:0", "--tracker", "127.0.0.1:1"}, "--community is required"},
		{[]string{"run", "--listen", "127.0.0.1:0", "--tracker", "nohost", "--community", "x"}, `tracker address "nohost"`},
		{[]string{"run", "--listen", "127.0.0.1:0", "--tracker", "[::1]:5", "--community", "x"}, "IPv4"},
		{[]string{"tracker", "--listen", "127.0.0.1:0", "--walk-interval", "0s"}, "--walk-interval must be > 0"},
		{[]string{"tracker", "--log", "loud"}, `--log "loud"`},
		{[]string{"tracker", "--listen", "not-an-address"}, "listen"},
		{[]string{"tracker", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		var errb bytes.Buffer
		err := run(tc.args, &errb)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if msg := err.Error() + errb.String(); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.args, msg, tc.want)
		}
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
}
