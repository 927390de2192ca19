package protocol

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Pool interns packets and member ids for MemStores. In a simulation every
// node's store shares one Pool, so each distinct packet is kept once however
// many nodes hold it; a store holds 4-byte references. A Pool keeps every
// distinct packet ever put into one of its stores, for its whole life. Like
// the stores, it is used by one goroutine at a time.
type Pool struct {
	members  []MemberID
	memberIx map[MemberID]uint32
	entries  []poolEntry
	byDigest map[uint64]uint32 // digest -> first entry index+1; collisions chain through next
	arena    []byte
	bytes    uint64
	filters  map[filterKey][]uint64 // filters built from the same content by several nodes
	seen     map[filterKey]struct{} // keys built once, kept when built again
}

// Bounds of a Pool's filter memo; reaching one clears it.
const (
	memoFilters = 4096
	memoSeen    = 1 << 16
)

type poolEntry struct {
	pkt    []byte
	gt     uint64
	mkey   uint64 // the member id's first 8 bytes, big-endian: it orders equal global times
	digest uint64
	member uint32
	seq    uint32
	next   uint32
	meta   wire.Type
}

const arenaChunk = 1 << 20

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{memberIx: make(map[MemberID]uint32), byDigest: make(map[uint64]uint32),
		filters: make(map[filterKey][]uint64), seen: make(map[filterKey]struct{})}
}

// Len returns the number of distinct packets interned.
func (p *Pool) Len() int { return len(p.entries) }

// Bytes returns the total size of the distinct packets interned.
func (p *Pool) Bytes() uint64 { return p.bytes }

// Packet returns the packet with ID id (from a MemStore of this pool).
func (p *Pool) Packet(id uint64) []byte { return p.entries[id-1].pkt }

func (p *Pool) member(m MemberID) (uint32, bool) {
	i, ok := p.memberIx[m]
	return i, ok
}

func (p *Pool) internMember(m MemberID) uint32 {
	if i, ok := p.memberIx[m]; ok {
		return i
	}
	i := uint32(len(p.members))
	p.members = append(p.members, m)
	p.memberIx[m] = i
	return i
}

// intern returns the index+1 of r's packet, adding it if it is new.
func (p *Pool) intern(r *Record) uint32 {
	head := p.byDigest[r.Digest]
	for i := head; i != 0; i = p.entries[i-1].next {
		if bytes.Equal(p.entries[i-1].pkt, r.Packet) {
			return i
		}
	}
	n := len(r.Packet)
	if n > arenaChunk/8 {
		p.arena = nil
	} else if cap(p.arena)-len(p.arena) < n {
		p.arena = make([]byte, 0, arenaChunk)
	}
	var pkt []byte
	if p.arena == nil {
		pkt = bytes.Clone(r.Packet)
	} else {
		off := len(p.arena)
		p.arena = append(p.arena, r.Packet...)
		pkt = p.arena[off : off+n : off+n]
	}
	p.entries = append(p.entries, poolEntry{pkt: pkt, gt: r.GlobalTime, mkey: binary.BigEndian.Uint64(r.Member[:8]), digest: r.Digest,
		member: p.internMember(r.Member), seq: r.Sequence, next: head, meta: r.Meta})
	p.bytes += uint64(n)
	idx := uint32(len(p.entries))
	p.byDigest[r.Digest] = idx
	return idx
}

func (p *Pool) fill(r *Record, ref uint32) {
	e := &p.entries[ref-1]
	r.ID, r.Member, r.Meta, r.GlobalTime = uint64(ref), p.members[e.member], e.meta, e.gt
	r.Sequence, r.Digest, r.Packet = e.seq, e.digest, e.pkt
}

// MemStore is the in-memory Store: per message type, a slice of pool
// references sorted by (global time, member id).
type MemStore struct {
	pool   *Pool
	slots  []memSlot
	undone map[uint32]uint64 // the Undone marks, by reference
	maxGT  uint64
	rec    Record // Scan's record, while no Scan is nested in another
	depth  int    // nesting depth of Scan calls
}

type memSlot struct {
	meta       wire.Type
	refs       []uint32
	byMember   map[uint32][]uint32 // built on first ScanMember; refs sorted by global time
	sum1, sum2 uint64              // content sums of the digests in refs not undone (see contentSums)
	nUndone    int                 // refs that are undone
}

// contentSums returns a digest's terms in a slot's content sums: two
// independent 64-bit mixes, so that two different sets of digests have the
// same sums and count with probability about 2^-128.
func contentSums(digest uint64) (uint64, uint64) {
	return mix64(digest ^ 0x2545F4914F6CDD1D), mix64(digest ^ 0x5851F42D4C957F2D)
}

func (sl *memSlot) tally(e *poolEntry, sign uint64) {
	a, b := contentSums(e.digest)
	sl.sum1 += sign * a
	sl.sum2 += sign * b
}

// undoneOf returns the Undone mark of ref.
func (s *MemStore) undoneOf(ref uint32) uint64 {
	if len(s.undone) == 0 {
		return 0
	}
	return s.undone[ref]
}

// fill is Pool.fill with the store's Undone mark.
func (s *MemStore) fill(r *Record, ref uint32) {
	s.pool.fill(r, ref)
	r.Undone = s.undoneOf(ref)
}

// NewMemStore returns an empty store interning into pool (nil: a pool of its own).
func NewMemStore(pool *Pool) *MemStore {
	if pool == nil {
		pool = NewPool()
	}
	return &MemStore{pool: pool}
}

var _ Store = (*MemStore)(nil)

// Pool returns the pool the store interns into.
func (s *MemStore) Pool() *Pool { return s.pool }

func (s *MemStore) slot(meta wire.Type, create bool) *memSlot {
	for i := range s.slots {
		if s.slots[i].meta == meta {
			return &s.slots[i]
		}
	}
	if !create {
		return nil
	}
	s.slots = append(s.slots, memSlot{meta: meta})
	return &s.slots[len(s.slots)-1]
}

// search returns the first position in refs whose global time is >= gt.
func (s *MemStore) search(refs []uint32, gt uint64) int {
	return sort.Search(len(refs), func(i int) bool { return s.pool.entries[refs[i]-1].gt >= gt })
}

func (s *MemStore) find(member MemberID, gt uint64) (*memSlot, int) {
	mk := binary.BigEndian.Uint64(member[:8])
	for si := range s.slots {
		sl := &s.slots[si]
		if i, ok := s.locate(sl.refs, member, mk, gt); ok {
			return sl, i
		}
	}
	return nil, -1
}

// locate returns the position of (gt, member) in refs, whose member id
// starts with mk, and whether it is there; if not, the position is where
// it would be inserted.
func (s *MemStore) locate(refs []uint32, member MemberID, mk, gt uint64) (int, bool) {
	ents := s.pool.entries
	i, j := 0, len(refs)
	for i < j {
		h := int(uint(i+j) >> 1)
		e := &ents[refs[h]-1]
		if e.gt < gt || (e.gt == gt && e.mkey < mk) {
			i = h + 1
		} else {
			j = h
		}
	}
	for ; i < len(refs); i++ {
		e := &ents[refs[i]-1]
		if e.gt != gt || e.mkey != mk {
			break
		}
		switch c := bytes.Compare(s.pool.members[e.member][:], member[:]); {
		case c == 0:
			return i, true
		case c > 0:
			return i, false
		}
	}
	return i, false
}

// Put implements Store.
func (s *MemStore) Put(r *Record) (uint64, error) {
	mk := binary.BigEndian.Uint64(r.Member[:8])
	at := -1
	for si := range s.slots {
		sl := &s.slots[si]
		i, ok := s.locate(sl.refs, r.Member, mk, r.GlobalTime)
		if ok {
			return 0, ErrExists
		}
		if sl.meta == r.Meta {
			at = i
		}
	}
	ref := s.pool.intern(r)
	sl := s.slot(r.Meta, true)
	at = max(at, 0) // a new slot is empty
	sl.refs = slices.Insert(sl.refs, at, ref)
	if r.Undone != 0 {
		s.markUndone(sl, ref, r.Undone)
	} else {
		sl.tally(&s.pool.entries[ref-1], 1)
	}
	if sl.byMember != nil {
		e := &s.pool.entries[ref-1]
		m, gt := e.member, e.gt
		l := sl.byMember[m]
		j := sort.Search(len(l), func(j int) bool { return s.pool.entries[l[j]-1].gt > gt })
		sl.byMember[m] = slices.Insert(l, j, ref)
	}
	s.maxGT = max(s.maxGT, r.GlobalTime)
	r.ID = uint64(ref)
	return uint64(ref), nil
}

// markUndone records ref, in sl and not undone, as undone by by.
func (s *MemStore) markUndone(sl *memSlot, ref uint32, by uint64) {
	if s.undone == nil {
		s.undone = make(map[uint32]uint64)
	}
	s.undone[ref] = by
	sl.nUndone++
}

// SetUndone implements Store.
func (s *MemStore) SetUndone(member MemberID, gt uint64, by uint64) bool {
	sl, i := s.find(member, gt)
	if sl == nil {
		return false
	}
	ref := sl.refs[i]
	old := s.undoneOf(ref)
	switch {
	case old == by:
	case old == 0:
		sl.tally(&s.pool.entries[ref-1], ^uint64(0))
		s.markUndone(sl, ref, by)
	case by == 0:
		delete(s.undone, ref)
		sl.nUndone--
		sl.tally(&s.pool.entries[ref-1], 1)
	default:
		s.undone[ref] = by
	}
	return true
}

// forget drops ref's Undone mark as ref leaves sl, and its digest from
// the slot's sums if it was in force.
func (s *MemStore) forget(sl *memSlot, ref uint32) {
	if s.undoneOf(ref) != 0 {
		delete(s.undone, ref)
		sl.nUndone--
		return
	}
	sl.tally(&s.pool.entries[ref-1], ^uint64(0))
}

var _ DigestScanner = (*MemStore)(nil)

// AppendDigests implements DigestScanner.
func (s *MemStore) AppendDigests(dst []DigestEntry, meta wire.Type, lo, hi uint64) []DigestEntry {
	refs, from, to := s.bounds(meta, lo, hi)
	ents := s.pool.entries
	if len(s.undone) > 0 {
		for _, ref := range refs[from:to] {
			if _, u := s.undone[ref]; !u {
				e := &ents[ref-1]
				dst = append(dst, DigestEntry{ID: uint64(ref), GlobalTime: e.gt, Digest: e.digest})
			}
		}
		return dst
	}
	for _, ref := range refs[from:to] {
		e := &ents[ref-1]
		dst = append(dst, DigestEntry{ID: uint64(ref), GlobalTime: e.gt, Digest: e.digest})
	}
	return dst
}

// PacketOf implements DigestScanner.
func (s *MemStore) PacketOf(id uint64) []byte { return s.pool.entries[id-1].pkt }

// Get implements Store.
func (s *MemStore) Get(member MemberID, gt uint64) (Record, bool) {
	sl, i := s.find(member, gt)
	if sl == nil {
		return Record{}, false
	}
	var r Record
	s.fill(&r, sl.refs[i])
	return r, true
}

// HasID reports whether the store holds the packet with ID id.
func (s *MemStore) HasID(id uint64) bool {
	if id == 0 || id > uint64(len(s.pool.entries)) {
		return false
	}
	e := &s.pool.entries[id-1]
	sl := s.slot(e.meta, false)
	if sl == nil {
		return false
	}
	for i := s.search(sl.refs, e.gt); i < len(sl.refs); i++ {
		if uint64(sl.refs[i]) == id {
			return true
		}
		if s.pool.entries[sl.refs[i]-1].gt != e.gt {
			break
		}
	}
	return false
}

// Delete implements Store.
func (s *MemStore) Delete(member MemberID, gt uint64) bool {
	sl, i := s.find(member, gt)
	if sl == nil {
		return false
	}
	s.remove(sl, i)
	return true
}

func (s *MemStore) remove(sl *memSlot, i int) {
	ref := sl.refs[i]
	sl.refs = slices.Delete(sl.refs, i, i+1)
	s.forget(sl, ref)
	if sl.byMember != nil {
		m := s.pool.entries[ref-1].member
		l := sl.byMember[m]
		if j := slices.Index(l, ref); j >= 0 {
			l = slices.Delete(l, j, j+1)
		}
		if len(l) == 0 {
			delete(sl.byMember, m)
		} else {
			sl.byMember[m] = l
		}
	}
}

// Scan implements Store.
func (s *MemStore) Scan(meta wire.Type, lo, hi uint64, desc bool, fn func(*Record) bool) {
	refs, from, to := s.bounds(meta, lo, hi)
	r := &s.rec
	if s.depth > 0 {
		r = new(Record)
	}
	s.depth++
	defer func() { s.depth-- }()
	if desc {
		for i := to - 1; i >= from; i-- {
			s.fill(r, refs[i])
			if !fn(r) {
				return
			}
		}
		return
	}
	for i := from; i < to; i++ {
		s.fill(r, refs[i])
		if !fn(r) {
			return
		}
	}
}

func (s *MemStore) memberRefs(member MemberID, meta wire.Type) (*memSlot, []uint32) {
	sl := s.slot(meta, false)
	m, ok := s.pool.member(member)
	if sl == nil || !ok {
		return nil, nil
	}
	if sl.byMember == nil {
		sl.byMember = make(map[uint32][]uint32)
		for _, ref := range sl.refs { // refs are in global-time order
			mm := s.pool.entries[ref-1].member
			sl.byMember[mm] = append(sl.byMember[mm], ref)
		}
	}
	return sl, sl.byMember[m]
}

// ScanMember implements Store.
func (s *MemStore) ScanMember(member MemberID, meta wire.Type, fn func(*Record) bool) {
	_, refs := s.memberRefs(member, meta)
	var r Record
	for _, ref := range refs {
		s.fill(&r, ref)
		if !fn(&r) {
			return
		}
	}
}

// KeepNewest implements Store.
func (s *MemStore) KeepNewest(member MemberID, meta wire.Type, n int) int {
	_, refs := s.memberRefs(member, meta)
	drop := len(refs) - max(n, 0)
	if drop <= 0 {
		return 0
	}
	gts := make([]uint64, drop)
	for i := range gts {
		gts[i] = s.pool.entries[refs[i]-1].gt
	}
	for _, gt := range gts {
		s.Delete(member, gt)
	}
	return drop
}

// DeleteUpTo implements Store.
func (s *MemStore) DeleteUpTo(meta wire.Type, gt uint64) int {
	sl := s.slot(meta, false)
	if sl == nil {
		return 0
	}
	k := s.search(sl.refs, gt+1)
	if gt == ^uint64(0) {
		k = len(sl.refs)
	}
	if k == 0 {
		return 0
	}
	for _, ref := range sl.refs[:k] {
		s.forget(sl, ref)
	}
	sl.refs = slices.Delete(sl.refs, 0, k)
	sl.byMember = nil // rebuilt on the next ScanMember
	return k
}

// Count implements Store.
func (s *MemStore) Count(meta wire.Type) int {
	if sl := s.slot(meta, false); sl != nil {
		return len(sl.refs)
	}
	return 0
}

// GlobalTime implements Store.
func (s *MemStore) GlobalTime() uint64 { return s.maxGT }

// bounds returns meta's references and the positions [from, to) of those
// with lo <= global time <= hi.
func (s *MemStore) bounds(meta wire.Type, lo, hi uint64) (refs []uint32, from, to int) {
	sl := s.slot(meta, false)
	if sl == nil || lo > hi {
		return nil, 0, 0
	}
	refs = sl.refs
	from, to = s.search(refs, lo), len(refs)
	if hi < ^uint64(0) {
		to = s.search(refs, hi+1)
	}
	return refs, from, to
}

var _ filterMemo = (*MemStore)(nil)

// span implements filterMemo.
func (s *MemStore) span(meta wire.Type) contentSpan {
	sl := s.slot(meta, false)
	if sl == nil || len(sl.refs) == 0 {
		return contentSpan{}
	}
	ents := s.pool.entries
	// lo and hi may be those of undone messages: answerCovered then only
	// fails to take the shortcut
	return contentSpan{count: len(sl.refs) - sl.nUndone, lo: ents[sl.refs[0]-1].gt, hi: ents[sl.refs[len(sl.refs)-1]-1].gt,
		sum1: sl.sum1, sum2: sl.sum2}
}

// memoFilter implements filterMemo.
func (s *MemStore) memoFilter(k filterKey) []uint64 { return s.pool.filters[k] }

// keepFilter implements filterMemo: a key's words are kept the second time
// they are offered, so that content only one node ever has costs no copy.
func (s *MemStore) keepFilter(k filterKey, words []uint64) {
	p := s.pool
	if _, ok := p.filters[k]; ok {
		return
	}
	if _, ok := p.seen[k]; !ok {
		if len(p.seen) >= memoSeen {
			clear(p.seen)
		}
		p.seen[k] = struct{}{}
		return
	}
	if len(p.filters) >= memoFilters {
		clear(p.filters)
	}
	p.filters[k] = slices.Clone(words)
}
