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

// ResolutionKind is a meta message's resolution policy: who may create
// messages of the type.
type ResolutionKind uint8

// Resolution policies (Dispersy's resolution axis).
const (
	// Public messages may be created by anyone.
	Public ResolutionKind = iota
	// Linear messages need the permit permission of their type at their
	// global time (granted by dispersy-authorize).
	Linear
	// Dynamic messages follow one of Meta.Policies, switched by
	// dispersy-dynamic-settings messages from just after their global time.
	Dynamic
)

// String names the policy as scenario files do.
func (k ResolutionKind) String() string {
	switch k {
	case Linear:
		return "linear"
	case Dynamic:
		return "dynamic"
	}
	return "public"
}

// MinSyncPriority is the lowest priority a message type may have and still
// be offered in bloom-filter sync (Dispersy never syncs priority <= 32).
const MinSyncPriority = 33

// Meta describes one message type of a community: its name, its type byte
// and its policy on each of Dispersy's axes.
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
	// Resolution is Public, Linear or Dynamic.
	Resolution ResolutionKind
	// Policies are a Dynamic type's policies, each Public or Linear; the
	// first is in force until a dynamic-settings message switches it.
	Policies []ResolutionKind
	// Undoable lets messages of the type be undone (Dispersy's undo
	// callback): by their creator (dispersy-undo-own), or by a member
	// holding the undo permission (dispersy-undo-other).
	Undoable bool
	// DoubleSigned is DoubleMemberAuthentication: every message carries two
	// members, its creator and a co-signer, and both sign the whole body;
	// it is made with Community.RequestSignature.
	DoubleSigned bool
}

// policyOf returns the policy a dynamic type's policy index names.
func (m *Meta) policyOf(index uint8) ResolutionKind {
	if int(index) < len(m.Policies) {
		return m.Policies[index]
	}
	return Linear // not reached: indexes are checked on decoding
}

// permissioned reports whether who may create a message of the type
// depends on the permission timeline.
func (m *Meta) permissioned() bool { return m.Resolution != Public }

// Stored reports whether messages of this type are kept and synchronised.
func (m *Meta) Stored() bool { return m.Distribution != Direct }

// Synced reports whether messages of this type are offered in bloom-filter sync.
func (m *Meta) Synced() bool { return m.Stored() && m.Priority >= MinSyncPriority }

func (m *Meta) pruning() bool { return m.PruneInactive > 0 && m.PrunePruned > 0 }

func (m *Meta) layout() wire.Layout {
	l := wire.Layout{Known: true, Signed: !m.Unsigned, Stored: m.Stored(),
		Sequence: m.Distribution == FullSync && m.SequenceNumbers, Double: m.DoubleSigned}
	if m.Resolution == Dynamic {
		l.Policies = uint8(len(m.Policies))
	}
	return l
}

// identityMeta is Dispersy's dispersy-identity: last-sync, history 1,
// priority 16 (fetched on demand only), never pushed.
var identityMeta = Meta{Name: "dispersy-identity", Type: wire.TypeIdentity, Distribution: LastSync,
	Priority: 16, HistorySize: 1, Destination: ToCommunity}

// Dispersy's permission messages, with Dispersy's policies: full-sync
// with sequence numbers (destroy-community without), pushed to 10
// candidates (destroy-community to 50), priority 128 (dynamic-settings 191
// descending, destroy-community 192). Authorize, revoke and undo-own are
// public (their own rules decide), undo-other, dynamic-settings and
// destroy-community linear.
var (
	authorizeMeta = Meta{Name: "dispersy-authorize", Type: wire.TypeAuthorize, Distribution: FullSync,
		SequenceNumbers: true, Priority: 128, Destination: ToCommunity, NodeCount: 10}
	revokeMeta = Meta{Name: "dispersy-revoke", Type: wire.TypeRevoke, Distribution: FullSync,
		SequenceNumbers: true, Priority: 128, Destination: ToCommunity, NodeCount: 10}
	undoOwnMeta = Meta{Name: "dispersy-undo-own", Type: wire.TypeUndoOwn, Distribution: FullSync,
		SequenceNumbers: true, Priority: 128, Destination: ToCommunity, NodeCount: 10}
	undoOtherMeta = Meta{Name: "dispersy-undo-other", Type: wire.TypeUndoOther, Distribution: FullSync,
		SequenceNumbers: true, Priority: 128, Destination: ToCommunity, NodeCount: 10, Resolution: Linear}
	destroyMeta = Meta{Name: "dispersy-destroy-community", Type: wire.TypeDestroyCommunity, Distribution: FullSync,
		Priority: 192, Destination: ToCommunity, NodeCount: 50, Resolution: Linear}
	dynamicSettingsMeta = Meta{Name: "dispersy-dynamic-settings", Type: wire.TypeDynamicSettings, Distribution: FullSync,
		SequenceNumbers: true, Priority: 191, Direction: Descending, Destination: ToCommunity, NodeCount: 10, Resolution: Linear}
)

// builtinMetas are Dispersy's stored message types every community has,
// in the order they are offered among equal priorities.
var builtinMetas = []*Meta{&authorizeMeta, &revokeMeta, &undoOwnMeta, &undoOtherMeta, &destroyMeta, &dynamicSettingsMeta}

// Definition is the immutable set of message types of a community. Nodes
// of one simulation share one Definition.
type Definition struct {
	metas   []Meta           // in definition order
	byType  [256]int16       // index+1 into metas; 0 = undefined
	synced  []*Meta          // synced metas (Dispersy's own included), highest priority first (stable)
	layouts wire.Layouts     // decoder layouts of the community types
	byName  map[string]*Meta // by name
	// permissioned are the community types whose verdicts the permission
	// timeline decides (linear or dynamic resolution)
	permissioned []*Meta
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
		case m.Resolution > Dynamic:
			bad(i, "unknown resolution policy %d", m.Resolution)
		case m.Unsigned && (m.Resolution != Public || m.DoubleSigned):
			bad(i, "unsigned (no-authentication) messages must be public and single-signed")
		case m.Resolution == Dynamic && (len(m.Policies) == 0 || len(m.Policies) > 254):
			bad(i, "dynamic resolution needs 1 to 254 policies, got %d", len(m.Policies))
		case m.Resolution != Dynamic && len(m.Policies) > 0:
			bad(i, "policies are for dynamic resolution only")
		case slices.ContainsFunc(m.Policies, func(k ResolutionKind) bool { return k != Public && k != Linear }):
			bad(i, "a dynamic policy must be public or linear")
		case m.Resolution == Dynamic && !m.Undoable:
			bad(i, "dynamic resolution needs undo (a policy switch undoes and redoes messages)")
		case m.Undoable && !m.Stored():
			bad(i, "only stored (full-sync or last-sync) messages can be undone")
		case m.DoubleSigned && m.SequenceNumbers:
			bad(i, "double-signed messages cannot have sequence numbers (a refused signature would leave a gap)")
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
		if m.permissioned() {
			d.permissioned = append(d.permissioned, m)
		}
	}
	d.byName[identityMeta.Name] = &identityMeta
	for _, m := range builtinMetas {
		d.byName[m.Name] = m
		d.synced = append(d.synced, m)
	}
	slices.SortStableFunc(d.synced, func(a, b *Meta) int { return int(b.Priority) - int(a.Priority) })
	return d, nil
}

// DefaultDefinition is the community a scenario without a community block
// gets: one full-sync type "text" (type 1, priority 128, ascending, no
// sequence numbers, public, undoable) pushed to 10 candidates.
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
		Destination: ToCommunity, NodeCount: 10, Undoable: true}
}

// Metas returns the community's message types in definition order.
func (d *Definition) Metas() []Meta { return d.metas }

// Meta returns the type named name (including Dispersy's stored types,
// dispersy-identity, dispersy-authorize, ...), or nil.
func (d *Definition) Meta(name string) *Meta { return d.byName[name] }

// metaOf returns the meta of type byte t, or nil.
func (d *Definition) metaOf(t wire.Type) *Meta {
	switch t {
	case wire.TypeIdentity:
		return &identityMeta
	case wire.TypeAuthorize:
		return &authorizeMeta
	case wire.TypeRevoke:
		return &revokeMeta
	case wire.TypeUndoOwn:
		return &undoOwnMeta
	case wire.TypeUndoOther:
		return &undoOtherMeta
	case wire.TypeDestroyCommunity:
		return &destroyMeta
	case wire.TypeDynamicSettings:
		return &dynamicSettingsMeta
	}
	if i := d.byType[t]; i > 0 {
		return &d.metas[i-1]
	}
	return nil
}

// StoredMetas returns every stored type of the community: its own, then
// Dispersy's permission messages, then dispersy-identity.
func (d *Definition) StoredMetas() []*Meta {
	var out []*Meta
	for i := range d.metas {
		if d.metas[i].Stored() {
			out = append(out, &d.metas[i])
		}
	}
	return append(append(out, builtinMetas...), &identityMeta)
}
