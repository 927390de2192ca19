package emul

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// ErrNeedRoot is wrapped by Preflight's error when the process is not
// root.
var ErrNeedRoot = errors.New("the netns backend needs root")

// Preflight checks that this machine can run an emulation: Linux, root,
// and a kernel that creates network namespaces, bridges and nftables
// tables in them. It creates one probe namespace and removes it. The error
// says what is missing.
func Preflight() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the netns backend needs Linux network namespaces (this is %s)", runtime.GOOS)
	}
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("%w (network namespaces, veth links and nftables need CAP_SYS_ADMIN and CAP_NET_ADMIN; running as uid %d): run it with sudo, or use the simulator (--backend sim)", ErrNeedRoot, uid)
	}
	name := nsName(runID(), "probe")
	h, err := createNS(name)
	if err != nil {
		return fmt.Errorf("cannot create network namespaces: %w", err)
	}
	defer func() {
		h.Close()
		_ = deleteNS(name)
	}()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("netlink in a new namespace: %w", err)
	}
	defer nl.Close()
	if err := nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeIf}}); err != nil {
		return fmt.Errorf("cannot create a bridge in a namespace: %w", err)
	}
	c, err := nftConn(h)
	if err != nil {
		return err
	}
	c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables unusable in a namespace: %w", err)
	}
	return nil
}
