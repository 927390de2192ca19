package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testSigLen = 8

var testKey = bytes.Repeat([]byte{0xAB}, 32)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// build encodes a message of type t with payload written by body, a fake
// all-0x5A signature when signed.
func build(t Type, gt uint64, body func([]byte) []byte) []byte {
	b := AppendHeader(nil, CommunityVersion, CID{0xC1, 0xD0}, t)
	if policyOf(t).signed {
		b = AppendMember(b, testKey)
	}
	b = AppendGlobalTime(b, gt)
	b = body(b)
	if policyOf(t).signed {
		b = append(b, bytes.Repeat([]byte{0x5A}, testSigLen)...)
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := Decode(tc.pkt, testSigLen, 32, &p)
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
		err := Decode(b, testSigLen, 0, &p)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Reason == ReasonNone || we.Reason >= NumReasons {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		out := AppendHeader(nil, p.CommunityVersion, p.CID, p.Type)
		if p.Key != nil {
			out = AppendMember(out, p.Key)
		}
		out = AppendGlobalTime(out, p.GlobalTime)
		switch p.Type {
		case TypeIntroductionRequest:
			out = AppendIntroRequest(out, &p.IntroRequest)
		case TypeIntroductionResponse:
			out = AppendIntroResponse(out, &p.IntroResponse)
		case TypePunctureRequest:
			out = AppendPunctureRequest(out, &p.PunctureRequest)
		case TypePuncture:
			out = AppendPuncture(out, &p.Puncture)
		}
		out = append(out, p.Signature...)
		if len(out) != len(b) {
			t.Fatalf("re-encoding has %d bytes, input %d", len(out), len(b))
		}
		var q Packet
		if err := Decode(out, testSigLen, 0, &q); err != nil {
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

func samePacket(a, b *Packet) bool {
	if a.CommunityVersion != b.CommunityVersion || a.CID != b.CID || a.Type != b.Type || a.GlobalTime != b.GlobalTime ||
		!bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Signature, b.Signature) {
		return false
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
	}
	return false
}
