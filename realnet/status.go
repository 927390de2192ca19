package realnet

import (
	"encoding/hex"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Status is what `peer status` reports of a running peer.
type Status struct {
	Member string `json:"member"`
	// PublicKey is the member's public key, which permission requests
	// for this member name.
	PublicKey      string            `json:"public_key"`
	Tracker        bool              `json:"tracker"`
	LAN            string            `json:"lan"`
	WAN            string            `json:"wan"`
	ConnectionType string            `json:"connection_type"`
	Uptime         string            `json:"uptime"`
	Communities    []CommunityStatus `json:"communities"`
	Packets        PacketStats       `json:"packets"`
	// Drops counts rejected datagrams by reason (only reasons seen).
	Drops map[string]uint64 `json:"drops"`
	Store StoreStatus       `json:"store"`
	// Unloaded counts communities a tracker left by the strike rule.
	Unloaded uint64 `json:"unloaded,omitempty"`
}

// CommunityStatus is one community's part of a Status.
type CommunityStatus struct {
	ID         string `json:"id"`
	GlobalTime uint64 `json:"global_time"`
	// Candidates counts candidates by category (walk, stumble, intro,
	// discovered).
	Candidates map[string]int `json:"candidates"`
	// Peers lists the candidates: address and category.
	Peers []PeerStatus `json:"peers"`
	// Messages counts stored messages by type.
	Messages map[string]int `json:"messages"`
	Sync     SyncStats      `json:"sync"`
	Steps    uint64         `json:"walk_steps"`
	// Master is the community's master member id (the community id).
	Master string `json:"master"`
	// Destroyed reports a community destroyed by dispersy-destroy-community.
	Destroyed bool `json:"destroyed,omitempty"`
}

// PeerStatus is one candidate.
type PeerStatus struct {
	Address  string `json:"address"`
	Category string `json:"category"`
	Tracker  bool   `json:"tracker,omitempty"`
}

// PacketStats are the node's datagram counters.
type PacketStats struct {
	Received uint64 `json:"received"`
	Accepted uint64 `json:"accepted"`
	Sent     uint64 `json:"sent"`
	Dropped  uint64 `json:"dropped"`
}

// StoreStatus describes the store.
type StoreStatus struct {
	Path    string `json:"path,omitempty"`
	Commits uint64 `json:"commits"`
	Pending int    `json:"pending_writes"`
}

// Status reads the peer's state on its loop.
func (p *Peer) Status() (*Status, error) {
	var st *Status
	if err := p.env.Do(func() { st = p.status() }); err != nil {
		return nil, err
	}
	return st, nil
}

// snapshot is Status for the metrics scrape.
func (p *Peer) snapshot() (*Status, bool) {
	st, err := p.Status()
	return st, err == nil
}

func (p *Peer) status() *Status {
	n := p.node
	now := n.Now()
	cfg := n.Config()
	ns := n.Stats()
	st := &Status{
		Member: hex.EncodeToString(p.memberID()), PublicKey: hex.EncodeToString(n.PublicKey()), Tracker: n.IsTracker(),
		LAN: n.LAN().String(), WAN: n.WAN().String(), ConnectionType: n.ConnType().String(),
		Uptime: time.Since(p.started).Round(time.Second).String(),
		Drops:  map[string]uint64{},
		Packets: PacketStats{Received: ns.Received, Accepted: ns.Accepted, Sent: ns.Sent,
			Dropped: ns.TotalDropped() + p.env.QueueDrops() + p.env.OversizeDrops()},
	}
	for r, c := range ns.Dropped {
		if c > 0 {
			st.Drops[wire.Reason(r).String()] = c
		}
	}
	if d := p.env.QueueDrops(); d > 0 {
		st.Drops[DropQueueFull] = d
	}
	if d := p.env.OversizeDrops(); d > 0 {
		st.Drops[DropOversize] = d
	}
	if p.db != nil {
		st.Store = StoreStatus{Path: p.db.Path(), Commits: p.db.Commits, Pending: p.db.Pending()}
	}
	if p.cleanup != nil {
		st.Unloaded = p.cleanup.Unloaded()
	}
	for _, c := range n.Communities() {
		cid := c.CID()
		cs := CommunityStatus{ID: hex.EncodeToString(cid[:]), GlobalTime: c.GlobalTime(), Steps: c.Steps(),
			Candidates: map[string]int{}, Messages: map[string]int{}, Peers: []PeerStatus{},
			Master: hex.EncodeToString(cid[:]), Destroyed: c.Destroyed()}
		for _, x := range c.Candidates() {
			cat := x.Category(now, cfg)
			if cat == protocol.CategoryNone {
				continue
			}
			cs.Candidates[cat.String()]++
			cs.Peers = append(cs.Peers, PeerStatus{Address: x.Sock().String(), Category: cat.String(), Tracker: x.Tracker})
		}
		if s := c.Store(); s != nil {
			cs.Messages["dispersy-identity"] = s.Count(wire.TypeIdentity)
			for _, m := range c.Definition().StoredMetas() {
				if n := s.Count(m.Type); n > 0 || m.Type < wire.FirstReservedType {
					cs.Messages[m.Name] = n
				}
			}
		}
		if ss := p.metrics.sync[cid]; ss != nil {
			cs.Sync = *ss
		}
		st.Communities = append(st.Communities, cs)
	}
	return st
}
