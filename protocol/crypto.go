package protocol

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/dchest/siphash"
)

// KeyLen is the length of a member's public key on the wire (both schemes).
const KeyLen = 32

// MemberID is the 20-byte member identifier: the SHA-1 of the public key's
// wire form, as in Dispersy.
type MemberID [20]byte

// IDOf returns the member id of a public key.
func IDOf(pub []byte) MemberID { return sha1.Sum(pub) }

// Scheme is a signature scheme. A network uses one scheme for all members.
type Scheme interface {
	// Name is "ed25519" or "fast"; it is reported in run summaries.
	Name() string
	// SignatureLen is the fixed length of a signature.
	SignatureLen() int
	// NewKey derives a key pair deterministically from a 32-byte seed.
	NewKey(seed [32]byte) PrivateKey
	// Verify reports whether sig is pub's signature of msg.
	Verify(pub, msg, sig []byte) bool
}

// PrivateKey signs on behalf of one member.
type PrivateKey interface {
	// Public returns the KeyLen-byte public key (do not modify).
	Public() []byte
	// AppendSign appends the signature of msg to dst.
	AppendSign(dst, msg []byte) []byte
}

// Ed25519 is the real scheme: RFC 8032 Ed25519 keys and 64-byte signatures.
type Ed25519 struct{}

var _ Scheme = Ed25519{}

// Name implements Scheme.
func (Ed25519) Name() string { return "ed25519" }

// SignatureLen implements Scheme.
func (Ed25519) SignatureLen() int { return ed25519.SignatureSize }

// NewKey implements Scheme.
func (Ed25519) NewKey(seed [32]byte) PrivateKey {
	k := ed25519.NewKeyFromSeed(seed[:])
	return &edKey{priv: k, pub: k.Public().(ed25519.PublicKey)}
}

// Verify implements Scheme.
func (Ed25519) Verify(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

type edKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (k *edKey) Public() []byte { return k.pub }

func (k *edKey) AppendSign(dst, msg []byte) []byte {
	return append(dst, ed25519.Sign(k.priv, msg)...)
}

// Fast is a simulation-only scheme: the "signature" is a keyed 64-bit
// SipHash-2-4 of the signed bytes (which include the signer's public key),
// under a key known to the whole run. Any change to a signed packet is
// detected, but anyone holding the run key can sign as anyone: it is for
// scale runs, must be chosen explicitly, and summaries say it was used.
type Fast struct {
	k0, k1 uint64
}

var _ Scheme = (*Fast)(nil)

// NewFast returns the fast scheme keyed by the run's seed.
func NewFast(runSeed uint64) *Fast {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], runSeed)
	h := sha256.Sum256(append([]byte("dispersy-go fast signatures "), b[:]...))
	return &Fast{k0: binary.LittleEndian.Uint64(h[0:]), k1: binary.LittleEndian.Uint64(h[8:])}
}

// Name implements Scheme.
func (*Fast) Name() string { return "fast" }

// SignatureLen implements Scheme.
func (*Fast) SignatureLen() int { return 8 }

// NewKey implements Scheme: the public key is a hash of the seed.
func (f *Fast) NewKey(seed [32]byte) PrivateKey {
	h := sha256.Sum256(seed[:])
	return &fastKey{f: f, pub: h[:]}
}

// Verify implements Scheme.
func (f *Fast) Verify(pub, msg, sig []byte) bool {
	if len(pub) != KeyLen || len(sig) != 8 {
		return false
	}
	return binary.BigEndian.Uint64(sig) == siphash.Hash(f.k0, f.k1, msg)
}

type fastKey struct {
	f   *Fast
	pub []byte
}

func (k *fastKey) Public() []byte { return k.pub }

func (k *fastKey) AppendSign(dst, msg []byte) []byte {
	return binary.BigEndian.AppendUint64(dst, siphash.Hash(k.f.k0, k.f.k1, msg))
}

// SchemeByName returns the scheme called name; runSeed keys the fast scheme.
func SchemeByName(name string, runSeed uint64) (Scheme, error) {
	switch name {
	case "ed25519", "":
		return Ed25519{}, nil
	case "fast":
		return NewFast(runSeed), nil
	}
	return nil, fmt.Errorf("protocol: unknown signature scheme %q (want ed25519 or fast)", name)
}

// NowSigner is implemented by keys whose AppendSign may leave the signature
// to be filled in when the datagram is sent (the simulator's pipelined
// signer). AppendSignNow signs before it returns; the node uses it for
// messages it stores.
type NowSigner interface {
	AppendSignNow(dst, msg []byte) []byte
}

// signNow appends a signature that is complete when it returns.
func signNow(k PrivateKey, b []byte) []byte {
	if ns, ok := k.(NowSigner); ok {
		return ns.AppendSignNow(b, b)
	}
	return k.AppendSign(b, b)
}
