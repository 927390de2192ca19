package protocol

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Double-signed messages (Dispersy's DoubleMemberAuthentication) carry two
// members, the creator and a co-signer, and two signatures. Both members
// sign the whole body: every byte before the signatures. (Dispersy's last
// code signs one byte per member, a 2015 regression of its payload-split
// hook; its original design, and this one, sign everything.) The creator
// asks for the co-signature with dispersy-signature-request and gets it
// back in dispersy-signature-response; the co-signer's application decides
// (Options.CoSign) and may change the payload, which voids the creator's
// signature until the creator accepts the change and signs again.

// CoSignRequest is what a co-signer's Options.CoSign is asked.
type CoSignRequest struct {
	Community  wire.CID
	Meta       *Meta
	Creator    []byte // the creator's public key
	GlobalTime uint64
	Payload    []byte // valid during the call
}

// CoSignFunc decides a signature request: it returns the payload to sign
// (the request's, or a changed one) and true, or false to refuse.
type CoSignFunc func(req *CoSignRequest) ([]byte, bool)

// SignatureResult is what the creator's callback learns of a signature
// request.
type SignatureResult struct {
	// TimedOut: no valid response came within the timeout.
	TimedOut bool
	// Packet is the message the co-signer returned, co-signed; the
	// creator's signature is zero when the co-signer changed the body.
	Packet []byte
	// Payload is the returned message's payload.
	Payload []byte
	// Changed reports whether the co-signer changed the body.
	Changed bool
	// Completed is the complete message once the callback accepted it and
	// the node signed and stored (or sent) it; nil otherwise.
	Completed *Record
}

// cosign is an open signature request (Dispersy's SignatureRequestCache).
type cosign struct {
	id    uint16
	to    netip.AddrPort
	meta  *Meta
	body  []byte // the body asked to be signed
	co    []byte // the co-signer's key
	gt    uint64
	timer Timer
	done  func(*SignatureResult) bool
}

// RequestSignature creates a message of double-signed type meta with the
// node's member as creator and coSigner (a public key) as second member,
// signs it, and sends the peer at to a signature request (Dispersy's
// create_signature_request). done is called once: with the response, or
// with TimedOut after timeout (0: Config.SignatureRequestTimeout). If it
// returns true for a response, the node signs the returned body (again, if
// it changed), and stores and pushes the message (stored types) or sends
// it to the co-signer (direct types); SignatureResult.Completed then holds
// it.
func (c *Community) RequestSignature(to netip.AddrPort, meta string, coSigner, payload []byte, timeout time.Duration,
	done func(*SignatureResult) bool) error {
	n := c.node
	if err := c.writable(); err != nil {
		return fmt.Errorf("signature request: %w", err)
	}
	m := c.def.Meta(meta)
	switch {
	case m == nil || !m.DoubleSigned:
		return fmt.Errorf("signature request: %q is not a double-signed type", meta)
	case len(coSigner) != KeyLen || bytes.Equal(coSigner, n.pub):
		return fmt.Errorf("signature request: the co-signer must be another member's %d-byte key", KeyLen)
	case done == nil:
		return fmt.Errorf("signature request: no callback")
	}
	gt := c.globalTime()
	if m.Stored() {
		gt = c.nextGT(m)
	}
	if c.allows(m, n.mid, nil, gt, nil) != allowed {
		return fmt.Errorf("signature request: %w: permit on %s at global time %d", ErrNotPermitted, meta, gt)
	}
	if m.Stored() {
		c.gt = max(c.gt, gt) // claimed, as Dispersy does, even if nobody signs
	}
	if timeout <= 0 {
		timeout = n.cfg.SignatureRequestTimeout
	}
	body := c.doubleBody(m, n.pub, coSigner, gt, payload)
	inner := n.key.AppendSign(slices.Clip(body), body)
	inner = append(inner, make([]byte, n.scheme.SignatureLen())...)
	cs := &cosign{id: c.newCosignID(), to: to, meta: m, body: body, co: bytes.Clone(coSigner), gt: gt, done: done}
	cs.timer = n.env.AfterFunc(timeout, func() { c.cosignTimeout(cs) })
	c.cosigns = append(c.cosigns, cs)
	b := c.header(wire.TypeSignatureRequest, false)
	b = wire.AppendCosign(b, cs.id, inner)
	n.send(to, wire.TypeSignatureRequest, b)
	n.s.buf = b[:0]
	return nil
}

// doubleBody builds the body of a double-signed message.
func (c *Community) doubleBody(m *Meta, k1, k2 []byte, gt uint64, payload []byte) []byte {
	b := wire.AppendHeader(nil, wire.CommunityVersion, c.cid, m.Type)
	b = wire.AppendMembers(b, k1, k2)
	if m.Resolution == Dynamic {
		idx, _ := c.tl.policyAt(m.Type, gt)
		b = wire.AppendPolicy(b, idx)
	}
	b = wire.AppendGlobalTime(b, gt)
	return append(b, payload...)
}

func (c *Community) newCosignID() uint16 {
	r := c.node.env.Rand()
	for {
		id := uint16(r.Uint32())
		if c.findCosign(id) == nil {
			return id
		}
	}
}

func (c *Community) findCosign(id uint16) *cosign {
	for _, cs := range c.cosigns {
		if cs.id == id {
			return cs
		}
	}
	return nil
}

func (c *Community) closeCosign(cs *cosign) {
	cs.timer.Stop()
	if i := slices.Index(c.cosigns, cs); i >= 0 {
		c.cosigns = slices.Delete(c.cosigns, i, i+1)
	}
}

func (c *Community) cosignTimeout(cs *cosign) {
	if c.findCosign(cs.id) != cs {
		return
	}
	c.closeCosign(cs)
	cs.done(&SignatureResult{TimedOut: true})
}

// decodeInner decodes the double-signed packet a signature request or
// response carries and checks its signatures, allowing empty (all-zero)
// ones. It drops and returns false when the packet is not a double-signed
// message of this community or a signature does not verify.
func (c *Community) decodeInner(inner []byte) (*wire.Packet, *Meta, bool) {
	n := c.node
	q := &n.s.in
	if err := wire.DecodeWith(inner, n.scheme.SignatureLen(), KeyLen, &c.def.layouts, q); err != nil {
		n.drop(reasonOf(err))
		return nil, nil, false
	}
	m := c.def.metaOf(q.Type)
	if q.CID != c.cid || m == nil || !m.DoubleSigned {
		n.drop(wire.ReasonBadResponse)
		return nil, nil, false
	}
	for _, s := range [2]struct{ key, sig []byte }{{q.Key, q.Signature}, {q.Key2, q.Signature2}} {
		if !wire.IsEmptySignature(s.sig) && !n.scheme.Verify(s.key, q.Body, s.sig) {
			n.drop(wire.ReasonBadSignature)
			return nil, nil, false
		}
	}
	return q, m, true
}

// onSignatureRequest is the co-signer's side: if the node is the message's
// second member and its application agrees, it signs the body (the
// application may change the payload, which empties the creator's
// signature) and answers with a signature response.
func (c *Community) onSignatureRequest(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	q, m, ok := c.decodeInner(p.Cosign.Packet)
	if !ok {
		return
	}
	if !bytes.Equal(q.Key2, n.pub) {
		n.drop(wire.ReasonNotCosigner) // Dispersy: "Nothing to sign"
		return
	}
	if n.cosign == nil {
		return // nobody here decides: no signature
	}
	req := CoSignRequest{Community: c.cid, Meta: m, Creator: q.Key, GlobalTime: q.GlobalTime, Payload: q.Payload}
	payload, yes := n.cosign(&req)
	if !yes {
		return
	}
	sigLen := n.scheme.SignatureLen()
	var body, sig1 []byte
	if bytes.Equal(payload, q.Payload) {
		body, sig1 = bytes.Clone(q.Body), q.Signature
	} else {
		body = append(bytes.Clone(q.Body[:len(q.Body)-len(q.Payload)]), payload...)
		sig1 = make([]byte, sigLen)
	}
	inner := append(body, sig1...)
	inner = n.key.AppendSign(inner, body)
	id := p.Cosign.Identifier
	b := c.header(wire.TypeSignatureResponse, false)
	b = wire.AppendCosign(b, id, inner)
	n.send(from, wire.TypeSignatureResponse, b)
	n.s.buf = b[:0]
}

// onSignatureResponse is the creator's side (Dispersy's
// check_signature_response and on_signature_response).
func (c *Community) onSignatureResponse(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	cs := c.findCosign(p.Cosign.Identifier)
	if cs == nil {
		n.drop(wire.ReasonUnknownIdentifier)
		return
	}
	q, m, ok := c.decodeInner(p.Cosign.Packet)
	if !ok {
		return
	}
	if m != cs.meta || !bytes.Equal(q.Key, n.pub) || !bytes.Equal(q.Key2, cs.co) || q.GlobalTime != cs.gt ||
		wire.IsEmptySignature(q.Signature2) {
		n.drop(wire.ReasonBadResponse) // type, members or global time changed, or not co-signed
		return
	}
	c.closeCosign(cs)
	res := &SignatureResult{Packet: bytes.Clone(p.Cosign.Packet), Changed: !bytes.Equal(q.Body, cs.body)}
	res.Payload = bytes.Clone(q.Payload)
	body, sig2 := bytes.Clone(q.Body), bytes.Clone(q.Signature2)
	signed := !wire.IsEmptySignature(q.Signature)
	sig1 := bytes.Clone(q.Signature)
	if !cs.done(res) {
		return
	}
	if !signed || res.Changed {
		sig1 = n.key.AppendSign(nil, body)
	}
	pkt := append(append(body, sig1...), sig2...)
	if !m.Stored() {
		n.send(cs.to, m.Type, pkt)
		res.Completed = &Record{Member: n.mid, Meta: m.Type, GlobalTime: q.GlobalTime, Packet: pkt}
		return
	}
	r := Record{Member: n.mid, Meta: m.Type, GlobalTime: q.GlobalTime,
		Digest: messageDigest(pkt, 2*n.scheme.SignatureLen()), Packet: pkt}
	rec, err := c.storeOwn(&r, m)
	if err != nil {
		return // a message of ours at that global time exists already
	}
	c.forward(m, &rec, nil)
	res.Completed = &rec
}
