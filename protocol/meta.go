package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// DistributionKind is a meta message's distribution policy.
type DistributionKind uint8

// Distribution policies (Dispersy's distribution axis).
const (
	// Direct messages are sent once and never stored.
	Direct DistributionKind = iota
	// FullSync messages are all kept and synchronised.
	FullSync
	// LastSync keeps only the newest HistorySize messages of each member.
	LastSync
)

// String names the policy as scenario files do.
func (k DistributionKind) String() string {
	switch k {
	case FullSync:
		return "full-sync"
	case LastSync:
		return "last-sync"
	}
	return "direct"
}

// Direction is the order in which a meta message's packets are offered
// in a sync response.
type Direction uint8

// Synchronisation directions.
const (
	Ascending Direction = iota
	Descending
	Random
)

// String names the direction as scenario files do.
func (d Direction) String() string {
	switch d {
	case Descending:
		return "descending"
	case Random:
		return "random"
	}
	return "ascending"
}

// DestinationKind is a meta message's destination policy.
type DestinationKind uint8

// Destination policies.
const (
	// ToCandidate sends to the candidates given when the message is created.
	ToCandidate DestinationKind = iota
	// ToCommunity pushes a created message to NodeCount random verified
	// candidates; received messages are not pushed on.
	ToCommunity
)

// MinSyncPriority is the lowest priority a message type may have and still
// be offered in bloom-filter sync (Dispersy never syncs priority <= 32).
const MinSyncPriority = 33

// Meta describes one message type of a community: its name, its type byte
// and its policy on each of Dispersy's axes (resolution is public).
type Meta struct {
	// Name is unique in the community; names starting "dispersy-" are reserved.
	Name string
	// Type is the message type byte, 1..234.
	Type wire.Type
	// Unsigned selects NoAuthentication (Direct only); otherwise the
	// creator's key and signature travel with the message.
	Unsigned bool
	// Distribution is Direct, FullSync or LastSync.
	Distribution DistributionKind
	// SequenceNumbers numbers each member's FullSync messages 1, 2, 3, ...
	SequenceNumbers bool
	// Priority orders sync responses (higher first); <= 32 is never synced.
	Priority uint8
	// Direction orders a sync response's packets of this type.
	Direction Direction
	// HistorySize is how many messages per member LastSync keeps.
	HistorySize int
	// PruneInactive and PrunePruned enable global-time pruning when both
	// are > 0: a message whose age (community global time minus its own)
	// reaches PruneInactive is no longer offered in sync, and at PrunePruned
	// it is deleted.
	PruneInactive, PrunePruned uint64
	// Destination is ToCandidate or ToCommunity.
	Destination DestinationKind
	// NodeCount is how many verified candidates a created ToCommunity
	// message is pushed to.
	NodeCount int
}

// Stored reports whether messages of this type are kept and synchronised.
func (m *Meta) Stored() bool { return m.Distribution != Direct }

// Synced reports whether messages of this type are offered in bloom-filter sync.
func (m *Meta) Synced() bool { return m.Stored() && m.Priority >= MinSyncPriority }

func (m *Meta) pruning() bool { return m.PruneInactive > 0 && m.PrunePruned > 0 }

func (m *Meta) layout() wire.Layout {
	return wire.Layout{Known: true, Signed: !m.Unsigned, Stored: m.Stored(),
		Sequence: m.Distribution == FullSync && m.SequenceNumbers}
}

// identityMeta is Dispersy's dispersy-identity: last-sync, history 1,
// priority 16 (fetched on demand only), never pushed.
var identityMeta = Meta{Name: "dispersy-identity", Type: wire.TypeIdentity, Distribution: LastSync,
	Priority: 16, HistorySize: 1, Destination: ToCommunity}

// Definition is the immutable set of message types of a community. Nodes
// of one simulation share one Definition.
type Definition struct {
	metas   []Meta           // in definition order
	byType  [256]int16       // index+1 into metas; 0 = undefined
	synced  []*Meta          // synced metas, highest priority first (stable)
	layouts wire.Layouts     // decoder layouts of the community types
	byName  map[string]*Meta // by name
}

var errDefinition = errors.New("protocol: invalid community definition")

// NewDefinition checks metas against Dispersy's allowed policy
// combinations and builds a Definition.
func NewDefinition(metas []Meta) (*Definition, error) {
	d := &Definition{byName: make(map[string]*Meta, len(metas)+1)}
	var errs []error
	bad := func(i int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("message %d (%q): %s", i, metas[i].Name, fmt.Sprintf(format, a...)))
	}
	for i := range metas {
		m := metas[i]
		switch {
		case m.Name == "" || strings.HasPrefix(m.Name, "dispersy-"):
			bad(i, "name must be non-empty and must not start with dispersy-")
		case m.Type == 0 || m.Type >= wire.FirstReservedType:
			bad(i, "type byte %d outside 1..%d", m.Type, wire.FirstReservedType-1)
		case d.byType[m.Type] != 0:
			bad(i, "type byte %d used twice", m.Type)
		case d.byName[m.Name] != nil:
			bad(i, "name used twice")
		case m.Distribution > LastSync || m.Direction > Random || m.Destination > ToCommunity:
			bad(i, "unknown policy value")
		case m.Unsigned && m.Distribution != Direct:
			bad(i, "unsigned (no-authentication) messages must be direct")
		case m.Stored() && m.Destination != ToCommunity:
			bad(i, "%v messages need the community destination", m.Distribution)
		case !m.Stored() && m.Destination != ToCandidate:
			bad(i, "direct messages need the candidate destination")
		case m.Distribution == LastSync && m.HistorySize < 1:
			bad(i, "last-sync needs history_size >= 1")
		case m.SequenceNumbers && m.Distribution != FullSync:
			bad(i, "sequence numbers need full-sync")
		case (m.PruneInactive > 0 || m.PrunePruned > 0) && (!m.Stored() || m.PruneInactive == 0 || m.PruneInactive >= m.PrunePruned):
			bad(i, "pruning needs a sync distribution and 0 < inactive < pruned")
		case m.NodeCount < 0:
			bad(i, "node_count must be >= 0")
		default:
			d.metas = append(d.metas, m)
			mp := &d.metas[len(d.metas)-1]
			d.byType[m.Type] = int16(len(d.metas))
			d.byName[m.Name] = mp
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", errDefinition, errors.Join(errs...))
	}
	// pointers are taken after the slice stopped growing
	for i := range d.metas {
		m := &d.metas[i]
		d.byName[m.Name] = m
		d.layouts[m.Type] = m.layout()
		if m.Synced() {
			d.synced = append(d.synced, m)
		}
	}
	d.byName[identityMeta.Name] = &identityMeta
	slices.SortStableFunc(d.synced, func(a, b *Meta) int { return int(b.Priority) - int(a.Priority) })
	return d, nil
}

// DefaultDefinition is the community a scenario without a community block
// gets: one full-sync type "text" (type 1, priority 128, ascending, no
// sequence numbers) pushed to 10 candidates.
func DefaultDefinition() *Definition {
	d, err := NewDefinition([]Meta{TextMeta()})
	if err != nil {
		panic(err) // a constant definition
	}
	return d
}

// TextMeta is the default community's message type.
func TextMeta() Meta {
	return Meta{Name: "text", Type: 1, Distribution: FullSync, Priority: 128, Direction: Ascending,
		Destination: ToCommunity, NodeCount: 10}
}

// Metas returns the community's message types in definition order.
func (d *Definition) Metas() []Meta { return d.metas }

// Meta returns the type named name (including dispersy-identity), or nil.
func (d *Definition) Meta(name string) *Meta { return d.byName[name] }

// metaOf returns the meta of type byte t, or nil.
func (d *Definition) metaOf(t wire.Type) *Meta {
	if t == wire.TypeIdentity {
		return &identityMeta
	}
	if i := d.byType[t]; i > 0 {
		return &d.metas[i-1]
	}
	return nil
}
