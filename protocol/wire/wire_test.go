package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testSigLen = 8

var testKey = bytes.Repeat([]byte{0xAB}, 32)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// testLayouts defines five community types: 1 full-sync, 2 full-sync with
// sequence numbers, 3 unsigned direct, 4 double-signed full-sync, 5
// full-sync with dynamic resolution over two policies.
var testLayouts = func() *Layouts {
	var l Layouts
	l[1] = Layout{Known: true, Signed: true, Stored: true}
	l[2] = Layout{Known: true, Signed: true, Stored: true, Sequence: true}
	l[3] = Layout{Known: true}
	l[4] = Layout{Known: true, Signed: true, Stored: true, Double: true}
	l[5] = Layout{Known: true, Signed: true, Stored: true, Policies: 2}
	return &l
}()

var testKey2 = bytes.Repeat([]byte{0xCD}, 32)

// build encodes a message of type t with payload written by body, a fake
// all-0x5A signature when signed.
func build(t Type, gt uint64, body func([]byte) []byte) []byte {
	return buildSeq(t, gt, 0, body)
}

func buildSeq(t Type, gt uint64, seq uint32, body func([]byte) []byte) []byte {
	l := layoutOf(t, testLayouts)
	b := AppendHeader(nil, CommunityVersion, CID{0xC1, 0xD0}, t)
	switch {
	case l.Double:
		b = AppendMembers(b, testKey, testKey2)
	case l.Signed:
		b = AppendMember(b, testKey)
	}
	if l.Policies > 0 {
		b = AppendPolicy(b, 1)
	}
	b = AppendGlobalTime(b, gt)
	if l.Sequence {
		b = AppendSequence(b, seq)
	}
	b = body(b)
	if l.Signed {
		b = append(b, bytes.Repeat([]byte{0x5A}, testSigLen)...)
	}
	if l.Double {
		b = append(b, bytes.Repeat([]byte{0x00}, testSigLen)...)
	}
	return b
}

func samplePackets() map[string][]byte {
	req := IntroRequest{Destination: ap("20.0.0.1:6421"), SourceLAN: ap("10.0.0.2:7759"),
		SourceWAN: ap("30.1.2.3:7759"), Advice: true, ConnType: ConnSymmetricNAT, Identifier: 0xBEEF}
	syncReq := req
	syncReq.Sync = &SyncBlock{TimeLow: 1, TimeHigh: 0, Modulo: 1, Offset: 0, Functions: 7, Bits: 16,
		Prefix: 0x42, Filter: []byte{0xF0, 0x0F}}
	resp := IntroResponse{Destination: ap("30.1.2.3:7759"), SourceLAN: ap("20.0.0.1:6421"),
		SourceWAN: ap("20.0.0.1:6421"), IntroLAN: ap("10.9.9.9:7759"), IntroWAN: ap("40.4.4.4:1234"),
		Tunnel: true, ConnType: ConnPublic, Identifier: 0xBEEF}
	pr := PunctureRequest{WalkerLAN: ap("10.0.0.2:7759"), WalkerWAN: ap("30.1.2.3:7759"), Identifier: 7}
	pu := Puncture{SourceLAN: ap("10.9.9.9:7759"), SourceWAN: ap("40.4.4.4:1234"), Identifier: 7}
	return map[string][]byte{
		"introduction-request": build(TypeIntroductionRequest, 42, func(b []byte) []byte { return AppendIntroRequest(b, &req) }),
		"introduction-request-sync": build(TypeIntroductionRequest, 42, func(b []byte) []byte {
			return AppendIntroRequest(b, &syncReq)
		}),
		"introduction-response": build(TypeIntroductionResponse, 43, func(b []byte) []byte { return AppendIntroResponse(b, &resp) }),
		"puncture-request":      build(TypePunctureRequest, 44, func(b []byte) []byte { return AppendPunctureRequest(b, &pr) }),
		"puncture":              build(TypePuncture, 45, func(b []byte) []byte { return AppendPuncture(b, &pu) }),
		"identity":              build(TypeIdentity, 2, func(b []byte) []byte { return b }),
		"missing-identity": build(TypeMissingIdentity, 46, func(b []byte) []byte {
			return AppendMissingIdentity(b, &MissingIdentity{Member: [20]byte{1, 2, 3}})
		}),
		"missing-sequence": build(TypeMissingSequence, 47, func(b []byte) []byte {
			return AppendMissingSequence(b, &MissingSequence{Member: [20]byte{9}, Meta: 2, Low: 6, High: 9})
		}),
		"missing-message": build(TypeMissingMessage, 48, func(b []byte) []byte {
			return AppendMissingMessage(b, testKey, []uint64{10, 12, 19})
		}),
		"authorize": buildSeq(TypeAuthorize, 50, 1, func(b []byte) []byte {
			return AppendPermissions(b, []Grant{{testKey2, 1, PermPermit | PermAuthorize}, {testKey2, 5, PermUndo},
				{testKey, TypeDestroyCommunity, PermPermit}})
		}),
		"revoke": buildSeq(TypeRevoke, 51, 2, func(b []byte) []byte {
			return AppendPermissions(b, []Grant{{testKey2, 1, PermPermit}})
		}),
		"undo-own":   buildSeq(TypeUndoOwn, 52, 3, func(b []byte) []byte { return AppendUndoOwn(b, 40) }),
		"undo-other": buildSeq(TypeUndoOther, 53, 4, func(b []byte) []byte { return AppendUndoOther(b, testKey2, 41) }),
		"dynamic-settings": buildSeq(TypeDynamicSettings, 54, 5, func(b []byte) []byte {
			return AppendDynamicSettings(b, []PolicyChange{{5, 1}, {6, 0}})
		}),
		"destroy-community": build(TypeDestroyCommunity, 55, func(b []byte) []byte { return append(b, DestroyHard) }),
		"missing-proof":     build(TypeMissingProof, 56, func(b []byte) []byte { return AppendMissingProof(b, testKey2, 42) }),
		"signature-request": build(TypeSignatureRequest, 57, func(b []byte) []byte {
			return AppendCosign(b, 0x1234, build(4, 58, func(b []byte) []byte { return append(b, "both"...) }))
		}),
		"signature-response": build(TypeSignatureResponse, 59, func(b []byte) []byte {
			return AppendCosign(b, 0x1234, build(4, 58, func(b []byte) []byte { return append(b, "both"...) }))
		}),
		"double-signed-text":  build(4, 60, func(b []byte) []byte { return append(b, "two"...) }),
		"dynamic-policy-text": build(5, 61, func(b []byte) []byte { return append(b, "dyn"...) }),
		"full-sync-text":      build(1, 100, func(b []byte) []byte { return append(b, "hello"...) }),
		"sequence-text":       buildSeq(2, 101, 3, func(b []byte) []byte { return append(b, "seq"...) }),
		"direct-text":         build(3, 102, func(b []byte) []byte { return append(b, "ping"...) }),
	}
}

// TestGolden pins the byte layout of every walker message.
func TestGolden(t *testing.T) {
	for name, pkt := range samplePackets() {
		path := filepath.Join("testdata", name+".hex")
		if *update {
			if err := os.WriteFile(path, []byte(hex.EncodeToString(pkt)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -update)", name, err)
		}
		if got := hex.EncodeToString(pkt); got != strings.TrimSpace(string(want)) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	pk := samplePackets()
	var p Packet
	if err := Decode(pk["introduction-request-sync"], testSigLen, 32, &p); err != nil {
		t.Fatal(err)
	}
	r := p.IntroRequest
	if r.Destination != ap("20.0.0.1:6421") || r.SourceLAN != ap("10.0.0.2:7759") || r.SourceWAN != ap("30.1.2.3:7759") ||
		!r.Advice || r.ConnType != ConnSymmetricNAT || r.Identifier != 0xBEEF || p.GlobalTime != 42 ||
		r.Sync == nil || r.Sync.Functions != 7 || r.Sync.Bits != 16 || !bytes.Equal(r.Sync.Filter, []byte{0xF0, 0x0F}) ||
		!bytes.Equal(p.Key, testKey) || len(p.Signature) != testSigLen {
		t.Fatalf("decoded request differs: %+v sync %+v", r, r.Sync)
	}
	if err := Decode(pk["introduction-response"], testSigLen, 32, &p); err != nil {
		t.Fatal(err)
	}
	if s := p.IntroResponse; s.IntroWAN != ap("40.4.4.4:1234") || !s.Tunnel || s.ConnType != ConnPublic || s.Identifier != 0xBEEF {
		t.Fatalf("decoded response differs: %+v", s)
	}
	if err := Decode(pk["puncture-request"], testSigLen, 32, &p); err != nil {
		t.Fatal(err)
	}
	if p.Key != nil || p.Signature != nil || p.PunctureRequest.WalkerWAN != ap("30.1.2.3:7759") {
		t.Fatalf("decoded puncture-request differs: %+v", p.PunctureRequest)
	}
	if err := Decode(pk["puncture"], testSigLen, 32, &p); err != nil {
		t.Fatal(err)
	}
	if p.Puncture.SourceWAN != ap("40.4.4.4:1234") || p.Puncture.Identifier != 7 {
		t.Fatalf("decoded puncture differs: %+v", p.Puncture)
	}
	if err := Decode(pk["identity"], testSigLen, 32, &p); err != nil || p.GlobalTime != 2 || !bytes.Equal(p.Key, testKey) {
		t.Fatalf("identity: %v %+v", err, p)
	}
	if err := Decode(pk["missing-identity"], testSigLen, 32, &p); err != nil || p.MissingIdentity.Member != [20]byte{1, 2, 3} {
		t.Fatalf("missing-identity: %v %+v", err, p.MissingIdentity)
	}
	if err := Decode(pk["missing-sequence"], testSigLen, 32, &p); err != nil ||
		p.MissingSequence != (MissingSequence{Member: [20]byte{9}, Meta: 2, Low: 6, High: 9}) {
		t.Fatalf("missing-sequence: %v %+v", err, p.MissingSequence)
	}
	if err := Decode(pk["missing-message"], testSigLen, 32, &p); err != nil || p.MissingMessage.Len() != 3 ||
		p.MissingMessage.GlobalTime(2) != 19 || !bytes.Equal(p.MissingMessage.Key, testKey) {
		t.Fatalf("missing-message: %v %+v", err, p.MissingMessage)
	}
	if err := Decode(pk["full-sync-text"], testSigLen, 32, &p); err == nil {
		t.Fatal("a community type decoded without its layout")
	}
	if err := DecodeWith(pk["full-sync-text"], testSigLen, 32, testLayouts, &p); err != nil ||
		string(p.Payload) != "hello" || p.GlobalTime != 100 || p.Sequence != 0 {
		t.Fatalf("full-sync-text: %v %q", err, p.Payload)
	}
	if err := DecodeWith(pk["sequence-text"], testSigLen, 32, testLayouts, &p); err != nil ||
		string(p.Payload) != "seq" || p.Sequence != 3 {
		t.Fatalf("sequence-text: %v %q seq %d", err, p.Payload, p.Sequence)
	}
	if err := DecodeWith(pk["direct-text"], testSigLen, 32, testLayouts, &p); err != nil ||
		string(p.Payload) != "ping" || p.Key != nil || p.Signature != nil {
		t.Fatalf("direct-text: %v %q", err, p.Payload)
	}
}

func TestRejects(t *testing.T) {
	pk := samplePackets()
	req := pk["introduction-request"]
	mut := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	flagsAt := len(req) - testSigLen - 3
	tests := []struct {
		name string
		pkt  []byte
		want Reason
	}{
		{"empty", nil, ReasonShort},
		{"prefix only", req[:22], ReasonShort},
		{"version", mut(req, func(b []byte) []byte { b[0] = 1; return b }), ReasonVersion},
		{"unknown type", mut(req, func(b []byte) []byte { b[22] = 7; return b }), ReasonUnknownType},
		{"key length zero", mut(req, func(b []byte) []byte { b[23], b[24] = 0, 0; return b }), ReasonBadKey},
		{"key length wrong", mut(req, func(b []byte) []byte { b[24] = 31; return b }), ReasonBadKey},
		{"key past end", req[:40], ReasonTruncated},
		{"no signature room", req[:23+2+32+4], ReasonTruncated},
		{"payload short", req[:len(req)-testSigLen-1], ReasonTruncated},
		{"trailing bytes", mut(req, func(b []byte) []byte {
			return append(append(b[:len(b)-testSigLen:len(b)-testSigLen], 0), bytes.Repeat([]byte{0x5A}, testSigLen)...)
		}), ReasonTrailing},
		{"connection type 0x40", mut(req, func(b []byte) []byte { b[flagsAt] = 0x40 | 0x01; return b }), ReasonBadFlags},
		{"tunnel flag on request", mut(req, func(b []byte) []byte { b[flagsAt] |= 0x04; return b }), ReasonBadFlags},
		{"sync flag without block", mut(req, func(b []byte) []byte { b[flagsAt] |= 0x02; return b }), ReasonTruncated},
		{"puncture-request long", append(append([]byte(nil), pk["puncture-request"]...), 1), ReasonTrailing},
		{"puncture short", pk["puncture"][:len(pk["puncture"])-testSigLen-1], ReasonTruncated},
		{"response advice flag", mut(pk["introduction-response"], func(b []byte) []byte {
			b[len(b)-testSigLen-3] |= 0x01
			return b
		}), ReasonBadFlags},
	}
	syncPkt := pk["introduction-request-sync"]
	syncAt := len(syncPkt) - testSigLen - 2 - SyncHeaderLen
	for _, s := range []struct {
		name string
		f    func([]byte)
	}{
		{"sync time_low 0", func(b []byte) { b[syncAt+7] = 0 }},
		{"sync modulo 0", func(b []byte) { b[syncAt+17] = 0 }},
		{"sync offset >= modulo", func(b []byte) { b[syncAt+19] = 1 }},
		{"sync functions 0", func(b []byte) { b[syncAt+20] = 0 }},
		{"sync bits not multiple of 8", func(b []byte) { b[syncAt+22] = 15 }},
	} {
		f := s.f
		tests = append(tests, struct {
			name string
			pkt  []byte
			want Reason
		}{s.name, mut(syncPkt, func(b []byte) []byte { f(b); return b }), ReasonBadSync})
	}
	ms := pk["missing-sequence"]
	mm := pk["missing-message"]
	more := []struct {
		name string
		pkt  []byte
		want Reason
	}{
		{"identity with payload", append(append([]byte(nil), pk["identity"][:len(pk["identity"])-testSigLen]...),
			append([]byte{1}, bytes.Repeat([]byte{0x5A}, testSigLen)...)...), ReasonTrailing},
		{"identity global time 0", build(TypeIdentity, 0, func(b []byte) []byte { return b }), ReasonBadGlobalTime},
		{"missing-identity short", pk["missing-identity"][:len(pk["missing-identity"])-1], ReasonTruncated},
		{"missing-sequence low 0", mut(ms, func(b []byte) []byte { b[len(b)-5] = 0; return b }), ReasonBadSequence},
		{"missing-sequence low > high", mut(ms, func(b []byte) []byte { b[len(b)-5] = 10; return b }), ReasonBadSequence},
		{"missing-sequence short", ms[:len(ms)-1], ReasonTruncated},
		{"missing-message no times", mm[:len(mm)-24], ReasonTruncated},
		{"missing-message ragged", mm[:len(mm)-3], ReasonTrailing},
		{"missing-message time 0", mut(mm, func(b []byte) []byte { b[len(b)-1] = 0; return b }), ReasonBadGlobalTime},
		{"full-sync global time 0", build(1, 0, func(b []byte) []byte { return b }), ReasonBadGlobalTime},
		{"sequence 0", buildSeq(2, 5, 0, func(b []byte) []byte { return b }), ReasonBadSequence},
		{"sequence truncated", pk["sequence-text"][:23+34+8+2], ReasonTruncated},
		{"undefined community type", build(9, 5, func(b []byte) []byte { return b }), ReasonUnknownType},
		{"reserved type 240", mut(pk["direct-text"], func(b []byte) []byte { b[22] = 240; return b }), ReasonUnknownType},
	}
	tests = append(tests, more...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := DecodeWith(tc.pkt, testSigLen, 32, testLayouts, &p)
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want a *wire.Error", err)
			}
			if we.Reason != tc.want {
				t.Fatalf("reason = %v, want %v", we.Reason, tc.want)
			}
		})
	}
}

func TestDecodeAllocs(t *testing.T) {
	pkt := samplePackets()["introduction-request-sync"]
	var p Packet
	if a := testing.AllocsPerRun(100, func() { _ = Decode(pkt, testSigLen, 32, &p) }); a != 0 {
		t.Fatalf("Decode allocates %v times per call, want 0", a)
	}
	bad := pkt[:30]
	if a := testing.AllocsPerRun(100, func() { _ = Decode(bad, testSigLen, 32, &p) }); a != 0 {
		t.Fatalf("rejecting allocates %v times per call, want 0", a)
	}
}

// FuzzDecode: decoding never panics, every rejection carries a reason, and
// a decoded packet re-encodes to bytes that decode to the same packet (the
// flags' unused bits, which Dispersy ignores, are not re-encoded).
func FuzzDecode(f *testing.F) {
	for _, p := range samplePackets() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		err := DecodeWith(b, testSigLen, 0, testLayouts, &p)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Reason == ReasonNone || we.Reason >= NumReasons {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		out := AppendHeader(nil, p.CommunityVersion, p.CID, p.Type)
		l := layoutOf(p.Type, testLayouts)
		switch {
		case p.Key2 != nil:
			out = AppendMembers(out, p.Key, p.Key2)
		case p.Key != nil:
			out = AppendMember(out, p.Key)
		}
		if l.Policies > 0 {
			out = AppendPolicy(out, p.Policy)
		}
		out = AppendGlobalTime(out, p.GlobalTime)
		if layoutOf(p.Type, testLayouts).Sequence {
			out = AppendSequence(out, p.Sequence)
		}
		switch p.Type {
		case TypeIntroductionRequest:
			out = AppendIntroRequest(out, &p.IntroRequest)
		case TypeIntroductionResponse:
			out = AppendIntroResponse(out, &p.IntroResponse)
		case TypePunctureRequest:
			out = AppendPunctureRequest(out, &p.PunctureRequest)
		case TypePuncture:
			out = AppendPuncture(out, &p.Puncture)
		case TypeMissingSequence:
			out = AppendMissingSequence(out, &p.MissingSequence)
		case TypeMissingIdentity:
			out = AppendMissingIdentity(out, &p.MissingIdentity)
		case TypeMissingMessage:
			gts := make([]uint64, p.MissingMessage.Len())
			for i := range gts {
				gts[i] = p.MissingMessage.GlobalTime(i)
			}
			out = AppendMissingMessage(out, p.MissingMessage.Key, gts)
		case TypeAuthorize, TypeRevoke:
			gs := grants(&p.Permissions)
			if len(gs) != p.Permissions.Len() {
				t.Fatalf("Each gave %d entries, Len %d", len(gs), p.Permissions.Len())
			}
			// AppendPermissions merges runs of one key that the input may
			// have split: its output must decode to the same entries
			var q Packet
			if err := decodePermissions(AppendPermissions(nil, gs), 0, &q); err != nil ||
				!slices.EqualFunc(grants(&q.Permissions), gs, sameGrant) {
				t.Fatalf("AppendPermissions(%v) does not decode to its grants: %v", gs, err)
			}
			out = append(out, p.Payload...)
		case TypeUndoOwn:
			out = AppendUndoOwn(out, p.Undo.GlobalTime)
		case TypeUndoOther:
			out = AppendUndoOther(out, p.Undo.Key, p.Undo.GlobalTime)
		case TypeDynamicSettings:
			var cs []PolicyChange
			for i := range p.DynamicSettings.Len() {
				ty, ix := p.DynamicSettings.At(i)
				cs = append(cs, PolicyChange{ty, ix})
			}
			out = AppendDynamicSettings(out, cs)
		case TypeDestroyCommunity:
			out = append(out, p.Destroy.Degree)
		case TypeMissingProof:
			out = AppendMissingProof(out, p.MissingProof.Key, p.MissingProof.GlobalTime)
		case TypeSignatureRequest, TypeSignatureResponse:
			out = AppendCosign(out, p.Cosign.Identifier, p.Cosign.Packet)
		default:
			out = append(out, p.Payload...)
		}
		out = append(out, p.Signature...)
		out = append(out, p.Signature2...)
		if len(out) != len(b) {
			t.Fatalf("re-encoding has %d bytes, input %d", len(out), len(b))
		}
		var q Packet
		if err := DecodeWith(out, testSigLen, 0, testLayouts, &q); err != nil {
			t.Fatalf("re-encoded packet rejected: %v", err)
		}
		if !samePacket(&p, &q) {
			t.Fatalf("re-encoding decodes differently:\n in  %x\n out %x", b, out)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	pkt := samplePackets()["introduction-request"]
	var p Packet
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(pkt, testSigLen, 32, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	req := IntroRequest{Destination: ap("20.0.0.1:6421"), SourceLAN: ap("10.0.0.2:7759"),
		SourceWAN: ap("30.1.2.3:7759"), Advice: true, Identifier: 1}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		out := AppendHeader(buf[:0], CommunityVersion, CID{1}, TypeIntroductionRequest)
		out = AppendMember(out, testKey)
		out = AppendGlobalTime(out, 1)
		out = AppendIntroRequest(out, &req)
		buf = out
	}
}

func grants(p *Permissions) []Grant {
	var gs []Grant
	p.Each(func(g Grant) bool { gs = append(gs, g); return true })
	return gs
}

func sameGrant(a, b Grant) bool {
	return bytes.Equal(a.Key, b.Key) && a.Type == b.Type && a.Bits == b.Bits
}

func samePacket(a, b *Packet) bool {
	if a.CommunityVersion != b.CommunityVersion || a.CID != b.CID || a.Type != b.Type || a.GlobalTime != b.GlobalTime ||
		a.Sequence != b.Sequence || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Signature, b.Signature) ||
		!bytes.Equal(a.Key2, b.Key2) || !bytes.Equal(a.Signature2, b.Signature2) || a.Policy != b.Policy {
		return false
	}
	// walker payloads are compared field by field (unused flag bits are not re-encoded)
	if a.Type < FirstReservedType || a.Type == TypeIdentity || a.Type == TypeMissingMessage {
		if !bytes.Equal(a.Payload, b.Payload) {
			return false
		}
	}
	switch a.Type {
	case TypeIntroductionRequest:
		x, y := a.IntroRequest, b.IntroRequest
		if (x.Sync == nil) != (y.Sync == nil) {
			return false
		}
		if x.Sync != nil {
			sx, sy := *x.Sync, *y.Sync
			if !bytes.Equal(sx.Filter, sy.Filter) || sx.TimeLow != sy.TimeLow || sx.TimeHigh != sy.TimeHigh ||
				sx.Modulo != sy.Modulo || sx.Offset != sy.Offset || sx.Functions != sy.Functions ||
				sx.Bits != sy.Bits || sx.Prefix != sy.Prefix {
				return false
			}
		}
		x.Sync, y.Sync = nil, nil
		return x == y
	case TypeIntroductionResponse:
		return a.IntroResponse == b.IntroResponse
	case TypePunctureRequest:
		return a.PunctureRequest == b.PunctureRequest
	case TypePuncture:
		return a.Puncture == b.Puncture
	case TypeMissingSequence:
		return a.MissingSequence == b.MissingSequence
	case TypeMissingIdentity:
		return a.MissingIdentity == b.MissingIdentity
	case TypeMissingMessage:
		return bytes.Equal(a.MissingMessage.Key, b.MissingMessage.Key) && bytes.Equal(a.MissingMessage.times, b.MissingMessage.times)
	case TypeAuthorize, TypeRevoke:
		return a.Permissions.n == b.Permissions.n && bytes.Equal(a.Permissions.raw, b.Permissions.raw)
	case TypeUndoOwn, TypeUndoOther:
		return bytes.Equal(a.Undo.Key, b.Undo.Key) && a.Undo.GlobalTime == b.Undo.GlobalTime
	case TypeDynamicSettings:
		return bytes.Equal(a.DynamicSettings.raw, b.DynamicSettings.raw)
	case TypeDestroyCommunity:
		return a.Destroy == b.Destroy
	case TypeMissingProof:
		return bytes.Equal(a.MissingProof.Key, b.MissingProof.Key) && a.MissingProof.GlobalTime == b.MissingProof.GlobalTime
	case TypeSignatureRequest, TypeSignatureResponse:
		return a.Cosign.Identifier == b.Cosign.Identifier && bytes.Equal(a.Cosign.Packet, b.Cosign.Packet)
	}
	return true // identity and community types: compared above
}

// TestPermissionRoundTrip decodes the permission messages' payloads.
func TestPermissionRoundTrip(t *testing.T) {
	pk := samplePackets()
	var p Packet
	if err := DecodeWith(pk["authorize"], testSigLen, 32, testLayouts, &p); err != nil {
		t.Fatal(err)
	}
	want := []Grant{{testKey2, 1, PermPermit | PermAuthorize}, {testKey2, 5, PermUndo}, {testKey, TypeDestroyCommunity, PermPermit}}
	if got := grants(&p.Permissions); !slices.EqualFunc(got, want, sameGrant) || p.Sequence != 1 || p.GlobalTime != 50 {
		t.Fatalf("authorize: %v seq %d gt %d", got, p.Sequence, p.GlobalTime)
	}
	// the two grants to testKey2 share one key header
	if n := bytes.Count(p.Payload, testKey2); n != 1 {
		t.Fatalf("authorize payload holds testKey2 %d times, want 1", n)
	}
	stop := 0
	p.Permissions.Each(func(Grant) bool { stop++; return false })
	if stop != 1 {
		t.Fatalf("Each went on after false: %d calls", stop)
	}
	if err := DecodeWith(pk["undo-other"], testSigLen, 32, testLayouts, &p); err != nil ||
		!bytes.Equal(p.Undo.Key, testKey2) || p.Undo.GlobalTime != 41 {
		t.Fatalf("undo-other: %v %+v", err, p.Undo)
	}
	if err := DecodeWith(pk["undo-own"], testSigLen, 32, testLayouts, &p); err != nil || p.Undo.Key != nil || p.Undo.GlobalTime != 40 {
		t.Fatalf("undo-own: %v %+v", err, p.Undo)
	}
	if err := DecodeWith(pk["dynamic-settings"], testSigLen, 32, testLayouts, &p); err != nil || p.DynamicSettings.Len() != 2 {
		t.Fatalf("dynamic-settings: %v", err)
	}
	if ty, ix := p.DynamicSettings.At(1); ty != 6 || ix != 0 {
		t.Fatalf("dynamic-settings entry 1 = (%d, %d), want (6, 0)", ty, ix)
	}
	if err := DecodeWith(pk["destroy-community"], testSigLen, 32, testLayouts, &p); err != nil || !p.Destroy.Hard() {
		t.Fatalf("destroy: %v %+v", err, p.Destroy)
	}
	if err := DecodeWith(pk["missing-proof"], testSigLen, 32, testLayouts, &p); err != nil ||
		!bytes.Equal(p.MissingProof.Key, testKey2) || p.MissingProof.GlobalTime != 42 || p.Key != nil {
		t.Fatalf("missing-proof: %v %+v", err, p.MissingProof)
	}
	if err := DecodeWith(pk["signature-request"], testSigLen, 32, testLayouts, &p); err != nil || p.Cosign.Identifier != 0x1234 {
		t.Fatalf("signature-request: %v", err)
	}
	var inner Packet
	if err := DecodeWith(p.Cosign.Packet, testSigLen, 32, testLayouts, &inner); err != nil {
		t.Fatalf("inner packet: %v", err)
	}
	if !bytes.Equal(inner.Key, testKey) || !bytes.Equal(inner.Key2, testKey2) || string(inner.Payload) != "both" ||
		!IsEmptySignature(inner.Signature2) || IsEmptySignature(inner.Signature) ||
		len(inner.Body) != len(p.Cosign.Packet)-2*testSigLen {
		t.Fatalf("inner double-signed packet: %+v", inner)
	}
	if err := DecodeWith(pk["dynamic-policy-text"], testSigLen, 32, testLayouts, &p); err != nil || p.Policy != 1 || string(p.Payload) != "dyn" {
		t.Fatalf("dynamic-policy-text: %v policy %d %q", err, p.Policy, p.Payload)
	}
}

// TestPermissionRejects: every malformed permission payload is refused
// with its reason.
func TestPermissionRejects(t *testing.T) {
	perm := func(payload ...byte) []byte {
		return buildSeq(TypeAuthorize, 50, 1, func(b []byte) []byte { return append(b, payload...) })
	}
	key := append([]byte{0, 32}, testKey2...)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	undoOwn := func(target uint64) []byte {
		return buildSeq(TypeUndoOwn, 50, 1, func(b []byte) []byte { return AppendUndoOwn(b, target) })
	}
	dyn := func(payload ...byte) []byte {
		return buildSeq(TypeDynamicSettings, 50, 1, func(b []byte) []byte { return append(b, payload...) })
	}
	pk := samplePackets()
	mp := pk["missing-proof"]
	tests := []struct {
		name string
		pkt  []byte
		want Reason
	}{
		{"authorize empty", perm(), ReasonBadPermission},
		{"authorize count 0", perm(cat(key, []byte{0})...), ReasonBadPermission},
		{"authorize bits 0", perm(cat(key, []byte{1, 1, 0})...), ReasonBadPermission},
		{"authorize unknown bit", perm(cat(key, []byte{1, 1, 0x10})...), ReasonBadPermission},
		{"authorize short key", perm(0, 31), ReasonBadKey},
		{"authorize key past end", perm(cat([]byte{0, 32}, testKey2[:10])...), ReasonTruncated},
		{"authorize entries past end", perm(cat(key, []byte{2, 1, 1})...), ReasonTruncated},
		{"authorize one byte", perm(0), ReasonTruncated},
		{"undo-own target = own time", undoOwn(50), ReasonBadGlobalTime},
		{"undo-own target in the future", undoOwn(51), ReasonBadGlobalTime},
		{"undo-own target 0", undoOwn(0), ReasonBadGlobalTime},
		{"undo-own long", buildSeq(TypeUndoOwn, 50, 1, func(b []byte) []byte { return append(AppendUndoOwn(b, 4), 0) }), ReasonTrailing},
		{"undo-other bad key", buildSeq(TypeUndoOther, 50, 1, func(b []byte) []byte { return AppendUndoOther(b, testKey2[:5], 4) }), ReasonBadKey},
		{"undo-other no time", buildSeq(TypeUndoOther, 50, 1, func(b []byte) []byte { return AppendMember(b, testKey2) }), ReasonTruncated},
		{"dynamic-settings empty", dyn(), ReasonTruncated},
		{"dynamic-settings ragged", dyn(5, 'r', 1, 5), ReasonTrailing},
		{"dynamic-settings policy type", dyn(5, 'x', 1), ReasonBadPolicy},
		{"destroy empty", build(TypeDestroyCommunity, 5, func(b []byte) []byte { return b }), ReasonTruncated},
		{"destroy long", build(TypeDestroyCommunity, 5, func(b []byte) []byte { return append(b, 'h', 'h') }), ReasonTrailing},
		{"missing-proof long", append(bytes.Clone(mp), 0), ReasonTrailing},
		{"missing-proof short", mp[:len(mp)-1], ReasonTruncated},
		{"missing-proof time 0", build(TypeMissingProof, 5, func(b []byte) []byte { return AppendMissingProof(b, testKey2, 0) }), ReasonBadGlobalTime},
		{"signature-request no packet", build(TypeSignatureRequest, 5, func(b []byte) []byte { return AppendCosign(b, 1, []byte{0}) }), ReasonTruncated},
		{"double-signed no room for two signatures", pk["double-signed-text"][:23+4+64+8+testSigLen], ReasonTruncated},
		{"double-signed second key short", func() []byte {
			b := bytes.Clone(pk["double-signed-text"])
			b[26] = 31
			return b
		}(), ReasonBadKey},
		{"dynamic index out of range", func() []byte {
			b := bytes.Clone(pk["dynamic-policy-text"])
			b[23+2+32] = 2
			return b
		}(), ReasonBadPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := DecodeWith(tc.pkt, testSigLen, 32, testLayouts, &p)
			var we *Error
			if !errors.As(err, &we) || we.Reason != tc.want {
				t.Fatalf("err = %v, want reason %v", err, tc.want)
			}
		})
	}
}
