package natmodels

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProfiles(t *testing.T) {
	want := []string{"public", "full-cone", "restricted-cone", "port-restricted-cone", "symmetric", "cgnat", "linux-masquerade", "linux-masquerade-nofw"}
	if got := ProfileNames(); !slices.Equal(got, want) {
		t.Fatalf("ProfileNames() = %v, want %v", got, want)
	}
	for i, name := range want {
		if r := Rank(name); r != i {
			t.Errorf("Rank(%q) = %d, want %d", name, r, i)
		}
		p, ok := LookupProfile(name)
		if !ok || p.Name != name {
			t.Fatalf("LookupProfile(%q) = %+v, %v", name, p, ok)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if Rank("nope") != -1 {
		t.Error("Rank of an unknown name")
	}
	if _, ok := LookupProfile("nope"); ok {
		t.Error("LookupProfile of an unknown name")
	}

	type shape struct {
		m, f  Dependency
		alloc PortAlloc
		to    time.Duration
	}
	one := func(name string) Behavior { return preset(t, name) }
	tests := []struct {
		name string
		b    Behavior
		want shape
	}{
		{ProfileFullCone, one(ProfileFullCone), shape{EndpointIndependent, EndpointIndependent, PortPreserve, 60 * s}},
		{ProfileRestrictedCone, one(ProfileRestrictedCone), shape{EndpointIndependent, AddressDependent, PortPreserve, 60 * s}},
		{ProfilePortRestrictedCone, one(ProfilePortRestrictedCone), shape{EndpointIndependent, AddressPortDependent, PortPreserve, 60 * s}},
		{ProfileSymmetric, one(ProfileSymmetric), shape{AddressPortDependent, AddressPortDependent, PortRandom, 60 * s}},
		{ProfileLinuxMasquerade, one(ProfileLinuxMasquerade), shape{EndpointIndependent, AddressPortDependent, PortPreserve, 30 * s}},
	}
	for _, tt := range tests {
		b := tt.b
		if got := (shape{b.Mapping, b.Filtering, b.PortAlloc, b.Timeout}); got != tt.want || b.Hairpin {
			t.Errorf("%s: %+v hairpin=%v, want %+v and no hairpin", tt.name, got, b.Hairpin, tt.want)
		}
	}
	lm, nofw := one(ProfileLinuxMasquerade), one(ProfileLinuxMasqueradeNoFW)
	if !lm.PerFlow || lm.AssuredTimeout != 120*s || lm.InboundCreatesFlow || !nofw.InboundCreatesFlow {
		t.Errorf("linux presets: %+v / %+v", lm, nofw)
	}
	if nofw.InboundCreatesFlow = false; nofw != lm {
		t.Errorf("linux-masquerade-nofw differs from linux-masquerade beyond InboundCreatesFlow")
	}
	cg, _ := LookupProfile(ProfileCGNAT)
	if len(cg.Chain) != 2 || cg.ShareOuter != 64 || cg.Chain[0] != one(ProfilePortRestrictedCone) {
		t.Errorf("cgnat: %+v", cg)
	}
	if o := cg.Chain[1]; o.Mapping != EndpointIndependent || o.Filtering != AddressPortDependent || o.PortAlloc != PortRandom || o.Timeout != 120*s || !o.Hairpin {
		t.Errorf("cgnat outer box: %+v", o)
	}
	if pub, _ := LookupProfile(ProfilePublic); len(pub.Chain) != 0 || pub.ShareOuter != 0 {
		t.Errorf("public: %+v", pub)
	}
}

func TestProfileValidate(t *testing.T) {
	bad := []Profile{
		{Name: "x", ShareOuter: -1},
		{Name: "x", ShareOuter: 2},
		{Name: "x", Chain: []Behavior{{}}},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil || !strings.HasPrefix(err.Error(), "natmodels: ") {
			t.Errorf("%+v: error %v", p, err)
		}
	}
}

func TestWithTimeout(t *testing.T) {
	p, _ := LookupProfile(ProfileCGNAT)
	q := p.WithTimeout(10 * time.Minute)
	for i, b := range q.Chain {
		if b.Timeout != 10*time.Minute {
			t.Errorf("box %d: Timeout %v", i, b.Timeout)
		}
	}
	if p.Chain[0].Timeout != 60*s || p.Chain[1].Timeout != 120*s {
		t.Errorf("WithTimeout changed the original: %+v", p.Chain)
	}
	q.Chain[0].Hairpin = true
	if again, _ := LookupProfile(ProfileCGNAT); again.Chain[0].Hairpin || p.Chain[0].Hairpin {
		t.Error("changing a copy's chain changed the preset or the original")
	}
	if r := p.WithTimeout(0); r.Chain[1].Timeout != 120*s || &r.Chain[0] == &p.Chain[0] {
		t.Errorf("WithTimeout(0): %+v (must be an unchanged deep copy)", r.Chain)
	}

	lm, _ := LookupProfile(ProfileLinuxMasquerade)
	if b := lm.WithTimeout(5 * s).Chain[0]; b.Timeout != 5*s || b.AssuredTimeout != 120*s {
		t.Errorf("short timeout: %+v", b)
	}
	if b := lm.WithTimeout(300 * s).Chain[0]; b.Timeout != 300*s || b.AssuredTimeout != 300*s {
		t.Errorf("long timeout: %+v", b)
	}
	if pub, _ := LookupProfile(ProfilePublic); len(pub.WithTimeout(s).Chain) != 0 {
		t.Error("public got a box")
	}
}

func count(names []string) map[string]int {
	c := map[string]int{}
	for _, n := range names {
		c[n]++
	}
	return c
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name string
		mix  []Share
		n    int
		want map[string]int
	}{
		{"exact", []Share{{"public", 0.5}, {"symmetric", 0.5}}, 10, map[string]int{"public": 5, "symmetric": 5}},
		{"largest remainder", []Share{{"public", 0.15}, {"full-cone", 0.35}, {"symmetric", 0.5}}, 10,
			map[string]int{"public": 2, "full-cone": 3, "symmetric": 5}}, // 1.5, 3.5, 5: one left, .5 tie -> canonical order
		{"tie by canonical order", []Share{{"symmetric", 1.0 / 3}, {"public", 1.0 / 3}, {"cgnat", 1.0 / 3}}, 4,
			map[string]int{"public": 2, "symmetric": 1, "cgnat": 1}},
		{"five presets of 1000", []Share{{"public", 0.2}, {"full-cone", 0.2}, {"restricted-cone", 0.2}, {"port-restricted-cone", 0.2}, {"symmetric", 0.2}}, 1000,
			map[string]int{"public": 200, "full-cone": 200, "restricted-cone": 200, "port-restricted-cone": 200, "symmetric": 200}},
		{"zero share", []Share{{"public", 0}, {"cgnat", 1}}, 3, map[string]int{"cgnat": 3}},
		{"remainders", []Share{{"full-cone", 0.26}, {"restricted-cone", 0.26}, {"symmetric", 0.48}}, 7,
			map[string]int{"full-cone": 2, "restricted-cone": 2, "symmetric": 3}}, // 1.82, 1.82, 3.36
		{"n zero", []Share{{"public", 1}}, 0, map[string]int{}},
		{"within tolerance", []Share{{"public", 0.5000004}, {"symmetric", 0.5}}, 2, map[string]int{"public": 1, "symmetric": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Assign(tt.mix, tt.n, newRand(3))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n {
				t.Fatalf("%d names, want %d", len(got), tt.n)
			}
			c := count(got)
			for name, n := range tt.want {
				if c[name] != n {
					t.Errorf("%s: %d, want %d (all: %v)", name, c[name], n, c)
				}
			}
			if len(c) != len(tt.want) {
				t.Errorf("profiles %v, want %v", c, tt.want)
			}
			// Same seed, same mix in another order: same list.
			rev := slices.Clone(tt.mix)
			slices.Reverse(rev)
			again, _ := Assign(rev, tt.n, newRand(3))
			if !slices.Equal(got, again) {
				t.Error("result depends on the order of the mix")
			}
		})
	}
	t.Run("shuffled", func(t *testing.T) {
		got, _ := Assign([]Share{{"public", 0.5}, {"symmetric", 0.5}}, 100, newRand(5))
		if slices.IsSorted(got) {
			t.Error("not shuffled")
		}
	})
}

func TestAssignErrors(t *testing.T) {
	tests := []struct {
		name string
		mix  []Share
		n    int
		is   error
	}{
		{"unknown", []Share{{"carrier-pigeon", 1}}, 1, ErrUnknownProfile},
		{"negative", []Share{{"public", 1.5}, {"symmetric", -0.5}}, 1, ErrInvalidMix},
		{"nan", []Share{{"public", math.NaN()}}, 1, ErrInvalidMix},
		{"inf", []Share{{"public", math.Inf(1)}}, 1, ErrInvalidMix},
		{"sum low", []Share{{"public", 0.5}, {"symmetric", 0.4}}, 1, ErrInvalidMix},
		{"sum high", []Share{{"public", 0.5}, {"symmetric", 0.500002}}, 1, ErrInvalidMix},
		{"empty", nil, 1, ErrInvalidMix},
		{"duplicate", []Share{{"public", 0.5}, {"public", 0.5}}, 1, ErrInvalidMix},
		{"negative n", []Share{{"public", 1}}, -1, ErrInvalidMix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Assign(tt.mix, tt.n, newRand(1))
			if !errors.Is(err, tt.is) || !strings.HasPrefix(err.Error(), "natmodels: ") {
				t.Errorf("error %v, want one wrapping %v", err, tt.is)
			}
		})
	}
	if _, err := Assign([]Share{{"public", 1}}, 1, nil); !errors.Is(err, ErrInvalidMix) {
		t.Errorf("nil rand: %v", err)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{EndpointIndependent.String(), "EI"},
		{AddressDependent.String(), "AD"},
		{AddressPortDependent.String(), "APD"},
		{Dependency(9).String(), "Dependency(9)"},
		{PortPreserve.String(), "preserve"},
		{PortSequential.String(), "sequential"},
		{PortRandom.String(), "random"},
		{PortAlloc(-1).String(), "PortAlloc(-1)"},
		{Pass.String(), "pass"},
		{NoMapping.String(), "no-mapping"},
		{Filtered.String(), "filtered"},
		{Verdict(5).String(), "Verdict(5)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
