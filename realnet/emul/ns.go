package emul

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Every namespace and temporary directory a run creates is named
//
//	dgoemu-PID-START-SEQ-ROLE
//
// where PID and START (the process start time in clock ticks, from
// /proc/self/stat) identify the process that made it and SEQ tells the runs
// of one process apart. A name whose process is gone is a leftover of a run
// that was killed; Cleanup removes those.
const namePrefix = "dgoemu-"

// netnsDir is where named network namespaces are bind-mounted (as
// iproute2's `ip netns` does).
const netnsDir = "/run/netns"

var runSeq atomic.Uint64

// runID returns a fresh "PID-START-SEQ" for a run of this process.
func runID() string {
	return fmt.Sprintf("%d-%d-%d", os.Getpid(), procStart(os.Getpid()), runSeq.Add(1))
}

// procStat returns the fields of /proc/PID/stat from field 3 (state) on,
// or nil if the process does not exist.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// the command name is in parentheses and may hold spaces: fields
	// start after the last ')'
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}

// procStart returns the start time of process pid in clock ticks since
// boot (field 22), or 0 if it does not exist.
func procStart(pid int) uint64 {
	f := procStat(pid)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// ownerAlive reports whether the process that created name (a name with
// namePrefix) still runs; a name that does not parse counts as alive, so
// that nothing foreign is removed.
func ownerAlive(name string) bool {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return true
	}
	f := strings.SplitN(rest, "-", 3)
	if len(f) < 3 {
		return true
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return true
	}
	return procStart(pid) == start
}

// onThread runs f on a fresh goroutine locked to its OS thread and waits
// for it. f may switch the thread's network namespace: afterwards the
// thread is switched back, and if that fails the thread is discarded (the
// goroutine exits still locked), so no other goroutine ever runs in a
// namespace it did not ask for.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore network namespace: %w", err))
			return // still locked: the runtime ends this thread
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNS runs f on a thread inside network namespace ns.
func inNS(ns netns.NsHandle, f func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return f()
	})
}

// createNS creates the named network namespace and returns a handle to it
// (the caller closes it).
func createNS(name string) (netns.NsHandle, error) {
	h := netns.None()
	err := onThread(func() error {
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		if h.IsOpen() {
			h.Close()
		}
		return netns.None(), fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return h, nil
}

// nsInode returns the inode that identifies the named namespace.
func nsInode(name string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, name), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// pidsIn returns the processes whose network namespace has inode ino.
func pidsIn(ino uint64) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == ino {
			out = append(out, pid)
		}
	}
	return out
}

// deleteNS kills what still runs in the named namespace (SIGKILL, by pid)
// and removes it. A process would keep the namespace, and its links, alive
// after the name is gone.
func deleteNS(name string) error {
	ino, err := nsInode(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	for try := 0; try < 50; try++ {
		pids := pidsIn(ino)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := netns.DeleteNamed(name); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// listNS returns the names of the named namespaces that start with prefix.
func listNS(prefix string) []string {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Leftovers returns the namespaces and temporary directories of runs whose
// process is gone (killed before it could clean up).
func Leftovers() (namespaces, dirs []string) {
	for _, n := range listNS(namePrefix) {
		if !ownerAlive(n) {
			namespaces = append(namespaces, n)
		}
	}
	ents, _ := os.ReadDir(os.TempDir())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), namePrefix) && !ownerAlive(e.Name()) {
			dirs = append(dirs, filepath.Join(os.TempDir(), e.Name()))
		}
	}
	return namespaces, dirs
}

// Cleanup removes the leftovers of killed runs (see Leftovers): it kills
// the processes still inside their namespaces, deletes the namespaces
// (their links go with them) and removes the directories. Runs of live
// processes are left alone. It returns how many namespaces it removed.
func Cleanup() (int, error) {
	nss, dirs := Leftovers()
	var errs []error
	for _, n := range nss {
		if err := deleteNS(n); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return len(nss), errors.Join(errs...)
}
