package emul

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// peerBin is the peer daemon the emulation tests run, built once.
var peerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "emul-test-peer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Geteuid() == 0 {
		// only root runs emulations: elsewhere nothing needs the binary
		if peerBin, err = BuildPeer(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(filepath.Clean(dir))
	os.Exit(code)
}
