package emul

import (
	"os"
	"strings"
)

// Report is what an emulation adds to the summary: how the kernel was set
// up and what the run cost. It is written as emulation.json beside
// summary.json.
type Report struct {
	Backend string `json:"backend"` // "netns"
	RunID   string `json:"run_id"`
	Kernel  string `json:"kernel"`
	// Hosts, Namespaces and Processes count what the run created.
	Hosts      int `json:"hosts"`
	Namespaces int `json:"namespaces"`
	// Profiles describes, per NAT profile, what its routers were given.
	Profiles map[string]*ProfileReport `json:"profiles"`
	// SetupSeconds is the time to build the network; StartSeconds the time
	// from the first peer's start until every control socket answered;
	// TeardownSeconds the time to stop and delete everything.
	SetupSeconds    float64 `json:"setup_seconds"`
	StartSeconds    float64 `json:"start_seconds"`
	TeardownSeconds float64 `json:"teardown_seconds"`
	// Delay is the userspace wire stage's count of packets.
	Delay DelayStats `json:"wire"`
	// NATUnsolicited counts new inbound packets to the routers themselves
	// (no conntrack entry, no DNAT): what the simulator counts as
	// nat_filtered; NATDropped those of them the WAN input rule dropped.
	NATUnsolicited int64 `json:"nat_unsolicited"`
	NATDropped     int64 `json:"nat_dropped"`
	// PeersRSSMax and PeersPSSMax are the largest sums of the processes'
	// resident and proportional set sizes seen (sampled with the progress
	// lines; PSS shares the binary's pages out); MemAvailable* the
	// machine's available memory before the run and its lowest during it.
	PeersRSSMax        int64 `json:"peers_rss_max_bytes"`
	PeersPSSMax        int64 `json:"peers_pss_max_bytes"`
	MemAvailableBefore int64 `json:"mem_available_before_bytes"`
	MemAvailableMin    int64 `json:"mem_available_min_bytes"`
	// PeersCPUSeconds is the CPU the processes used (until the end of the
	// scenario); EmulatorCPUSeconds this process's (wire, captures, polls).
	PeersCPUSeconds    float64 `json:"peers_cpu_seconds"`
	EmulatorCPUSeconds float64 `json:"emulator_cpu_seconds"`
	// PollSeconds is the status poll period; StatusMisses counts status
	// requests that got no answer in time.
	PollSeconds  float64 `json:"poll_seconds"`
	StatusMisses int64   `json:"status_misses"`
	// PublishErrors lists publishes the peers refused or did not confirm.
	PublishErrors []string `json:"publish_errors"`
	// NotMeasured names summary fields the emulation cannot measure and
	// leaves at zero.
	NotMeasured []string `json:"not_measured"`
}

// ProfileReport is one NAT profile's kernel setup.
type ProfileReport struct {
	Hosts int `json:"hosts"`
	// Rules is the translation, e.g. "masquerade fully-random".
	Rules string `json:"rules"`
	// InputDrop says the router drops new inbound packets to itself.
	InputDrop bool `json:"wan_input_drop"`
	// OutboundRefresh says only outbound packets keep a hole open (inbound
	// packets are checked against a set that only outbound ones refresh).
	OutboundRefresh bool `json:"outbound_refresh_only"`
	// UDPTimeout and StreamTimeout are the namespace's conntrack UDP
	// timeouts in seconds (unreplied, replied).
	UDPTimeout    float64 `json:"conntrack_udp_timeout"`
	StreamTimeout float64 `json:"conntrack_udp_timeout_stream"`
	// Unsolicited counts new inbound packets to these routers.
	Unsolicited int64 `json:"unsolicited"`
}

// DelayStats counts the wire stage's packets.
type DelayStats struct {
	Queued  int64 `json:"queued"`
	Passed  int64 `json:"passed"`
	Dropped int64 `json:"lost"`
	Errors  int64 `json:"errors"`
}

func newReport(id string, profiles []string, nats []kernelNAT) *Report {
	rep := &Report{Backend: "netns", RunID: id, Kernel: kernelRelease(), Hosts: len(profiles),
		Profiles: map[string]*ProfileReport{}, PublishErrors: []string{},
		NotMeasured: []string{"events", "trace_hash (real peers are not deterministic)", "max_heap_bytes (see peers_rss_max_bytes)",
			"sync.bloom_false_positive_rate", "sync.bloom_expected_rate", "sync.bloom_tested"}}
	rep.Namespaces = 1
	for i, p := range profiles {
		rep.Namespaces++
		pr := rep.Profiles[p]
		if pr == nil {
			k := nats[i]
			pr = &ProfileReport{Rules: k.Mode.String(), InputDrop: k.InputDrop, OutboundRefresh: k.OutboundRefresh}
			if k.Mode != modeNone {
				pr.UDPTimeout, pr.StreamTimeout = k.UDPTimeout.Seconds(), k.StreamTimeout.Seconds()
				rep.Namespaces++
			}
			rep.Profiles[p] = pr
		} else if nats[i].Mode != modeNone {
			rep.Namespaces++
		}
		pr.Hosts++
	}
	return rep
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}
