package protocol

import (
	"errors"

	"github.com/dchest/siphash"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Record is one stored message: its identity (member and global time), its
// type, its sequence number and its packet.
type Record struct {
	// ID is assigned by the store when the message is put and is stable
	// while it is stored. Stores that share a Pool give the same packet the
	// same ID.
	ID uint64
	// Member is the creator's member id.
	Member MemberID
	// Meta is the message type byte.
	Meta wire.Type
	// GlobalTime is the message's global time; (Member, GlobalTime) is
	// unique in a store.
	GlobalTime uint64
	// Sequence is the sequence number, or 0 for types without.
	Sequence uint32
	// Digest is PacketDigest(Packet), the key of the message in sync bloom filters.
	Digest uint64
	// Undone is 0 for a message in force; otherwise it is undone, and
	// Undone is the ID of the undo message that undid it, or
	// UndoneByTimeline when the permission timeline refuses it. Undone
	// messages stay stored but are not synchronised.
	Undone uint64
	// Packet is the complete signed packet. A store copies it on Put; the
	// slice a store hands out is read-only and valid while the message is stored.
	Packet []byte
}

// UndoneByTimeline is Record.Undone of a message undone because the
// permission timeline refuses it (Dispersy writes 1).
const UndoneByTimeline = ^uint64(0)

// ErrExists is returned by Store.Put when the store already holds a
// message of the same member at the same global time.
var ErrExists = errors.New("protocol: a message of this member at this global time is already stored")

// Store is what a node holds of one community: every stored message, by
// member, message type, global time and sequence number. One goroutine uses
// a store at a time. storetest.Run is the conformance suite every
// implementation must pass.
type Store interface {
	// Put stores r (copying r.Packet, keeping r.Undone) and returns its
	// ID, or ErrExists. On success it also sets r.ID.
	Put(r *Record) (uint64, error)
	// SetUndone sets the Undone mark of the message member created at gt
	// (0: in force again) and reports whether there is one.
	SetUndone(member MemberID, gt uint64, by uint64) bool
	// Get returns the message member created at global time gt.
	Get(member MemberID, gt uint64) (Record, bool)
	// Delete removes the message member created at gt and reports whether
	// there was one.
	Delete(member MemberID, gt uint64) bool
	// Scan calls fn for every message of type meta with lo <= global time
	// <= hi, in ascending (global time, member id) order, descending if
	// desc, until fn returns false. fn must not modify the store; the
	// Record is valid only during the call.
	Scan(meta wire.Type, lo, hi uint64, desc bool, fn func(*Record) bool)
	// ScanMember calls fn for every message of type meta that member
	// created, in ascending global-time order, until fn returns false. fn
	// must not modify the store.
	ScanMember(member MemberID, meta wire.Type, fn func(*Record) bool)
	// KeepNewest deletes member's oldest messages of type meta until at most
	// n remain (last-sync history) and returns how many it deleted.
	KeepNewest(member MemberID, meta wire.Type, n int) int
	// DeleteUpTo deletes every message of type meta with global time <= gt
	// (global-time pruning) and returns how many it deleted.
	DeleteUpTo(meta wire.Type, gt uint64) int
	// Count returns how many messages of type meta are stored.
	Count(meta wire.Type) int
	// GlobalTime returns the highest global time of any message ever put
	// (0 for an empty store); deleting messages does not lower it.
	GlobalTime() uint64
}

// digestKey keys PacketDigest; fixed so that digests, and with them bloom
// filters and trace hashes, are the same on every run.
const digestKey0, digestKey1 = 0x6469737065727379, 0x73796e632d6b6579

// PacketDigest is the 64-bit digest of a packet that stands for it in sync
// bloom filters (SipHash-2-4 under a fixed key).
func PacketDigest(pkt []byte) uint64 { return siphash.Hash(digestKey0, digestKey1, pkt) }

// DigestScanner is an optional fast path of a Store for answering sync
// requests, which visit every packet in a range but need only its global
// time and digest (and the packet of the few that are sent).
type DigestScanner interface {
	// AppendDigests appends to dst the ID, global time and digest of every
	// message of type meta with lo <= global time <= hi that is not
	// undone, in Scan's ascending order, and returns the extended slice.
	AppendDigests(dst []DigestEntry, meta wire.Type, lo, hi uint64) []DigestEntry
	// PacketOf returns the stored packet with ID id.
	PacketOf(id uint64) []byte
}

// DigestEntry is what DigestScanner reports of one stored message.
type DigestEntry struct {
	ID, GlobalTime, Digest uint64
}

// messageDigest is the digest of a signed message: the digest of its
// signature, which already is a pseudo-random function of every other
// byte and is much shorter to hash.
func messageDigest(pkt []byte, sigLen int) uint64 {
	if sigLen > 0 && sigLen <= len(pkt) {
		return PacketDigest(pkt[len(pkt)-sigLen:])
	}
	return PacketDigest(pkt)
}
