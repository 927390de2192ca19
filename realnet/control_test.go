package realnet

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
)

func TestParsePublishRequest(t *testing.T) {
	cid := strings.Repeat("ab", 20)
	tests := []struct {
		body    string
		message string
		want    string // error substring; "" for success
	}{
		{`{"payload":"aGk="}`, "text", ""},
		{`{"community":"` + cid + `","message":"chat","payload":"aGk="}`, "chat", ""},
		{`{"payload":"aGk=","extra":1}`, "", "unknown field"},
		{`{"community":"xyz","payload":""}`, "", "40 hex digits"},
		{`{"payload":"not base64!"}`, "", "publish body"},
		{`{"payload":"aGk="} {}`, "", "data after"},
		{``, "", "publish body"},
		{`{"payload":"` + strings.Repeat("A", 4*(MaxPayload/3+1)) + `"}`, "", "too large"},
	}
	for _, tt := range tests {
		req, err := ParsePublishRequest([]byte(tt.body))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ParsePublishRequest(%.40q): %v", tt.body, err)
		case tt.want == "" && req.Message != tt.message:
			t.Errorf("ParsePublishRequest(%.40q): message %q, want %q", tt.body, req.Message, tt.message)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ParsePublishRequest(%.40q) = %v, want an error containing %q", tt.body, err, tt.want)
		}
	}
}

func TestParseMessagesQuery(t *testing.T) {
	tests := []struct {
		query string
		since uint64
		limit int
		want  string
	}{
		{"", 0, DefaultMessageLimit, ""},
		{"since=42&limit=7", 42, 7, ""},
		{"since=-1", 0, 0, "since"},
		{"limit=0", 0, 0, "limit"},
		{"limit=1000001", 0, 0, "limit"},
		{"community=zz", 0, 0, "community id"},
		{"sinse=1", 0, 0, `unknown parameter "sinse"`},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		mq, err := ParseMessagesQuery(q)
		switch {
		case tt.want == "" && (err != nil || mq.Since != tt.since || mq.Limit != tt.limit):
			t.Errorf("ParseMessagesQuery(%q) = %+v, %v", tt.query, mq, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errBadRequest)):
			t.Errorf("ParseMessagesQuery(%q) = %v, want a bad-request error containing %q", tt.query, err, tt.want)
		}
	}
}

func FuzzParsePublishRequest(f *testing.F) {
	for _, s := range []string{`{"payload":"aGk="}`, `{"community":"` + strings.Repeat("0", 40) + `","message":"x","payload":null}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParsePublishRequest(body)
		if err != nil {
			return
		}
		if req.Message == "" || len(req.Payload) > MaxPayload {
			t.Fatalf("accepted request %+v", req)
		}
		if req.Community != "" {
			if _, err := ParseCID(req.Community); err != nil {
				t.Fatalf("accepted community %q: %v", req.Community, err)
			}
		}
	})
}

func FuzzParseMessagesQuery(f *testing.F) {
	for _, s := range []string{"since=1&limit=2", "community=" + strings.Repeat("a", 40), "limit=%zz", "a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		mq, err := ParseMessagesQuery(q)
		if err == nil && (mq.Limit < 1 || mq.Limit > MaxMessageLimit) {
			t.Fatalf("accepted limit %d", mq.Limit)
		}
	})
}

func TestParsePermissionRequest(t *testing.T) {
	key, mid, cid := strings.Repeat("ab", 32), strings.Repeat("cd", 20), strings.Repeat("ef", 20)
	tests := []struct {
		body  string
		perms protocol.Permission
		want  string
	}{
		{`{"member":"` + key + `","message":"protected-text"}`, protocol.PermitPerm, ""},
		{`{"community":"` + cid + `","member":"` + mid + `","message":"text","permissions":["undo","authorize"]}`,
			protocol.UndoPerm | protocol.AuthorizePerm, ""},
		{`{"member":"` + key + `","message":"t","permissions":["permit","delete"]}`, 0, `permission "delete"`},
		{`{"member":"abc","message":"t"}`, 0, "public key or a 40-hex-digit member id"},
		{`{"member":"` + key + `"}`, 0, "no message type"},
		{`{"member":"` + key + `","message":"t","community":"zz"}`, 0, "40 hex digits"},
		{`{"member":"` + key + `","message":"t","extra":true}`, 0, "unknown field"},
		{`{"member":"` + key + `","message":"t"}{}`, 0, "data after"},
	}
	for _, tt := range tests {
		req, err := ParsePermissionRequest([]byte(tt.body))
		switch {
		case tt.want == "" && (err != nil || req.Perms() != tt.perms):
			t.Errorf("ParsePermissionRequest(%.50q) = %v, %v; want %v", tt.body, req.Perms(), err, tt.perms)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errBadRequest)):
			t.Errorf("ParsePermissionRequest(%.50q) = %v, want a bad-request error containing %q", tt.body, err, tt.want)
		}
	}
}

func TestParseUndoRequest(t *testing.T) {
	mid := strings.Repeat("cd", 20)
	tests := []struct {
		body string
		gt   uint64
		want string
	}{
		{`{"id":"` + mid + `:42"}`, 42, ""},
		{`{"id":"` + mid + `"}`, 0, "MEMBER:GLOBALTIME"},
		{`{"id":"` + mid + `:0"}`, 0, "above 0"},
		{`{"id":"` + mid + `:x"}`, 0, "above 0"},
		{`{"id":"zz:1"}`, 0, "MEMBER:GLOBALTIME"},
		{`{"id":"` + mid + `:1","more":1}`, 0, "unknown field"},
	}
	for _, tt := range tests {
		_, _, gt, err := ParseUndoRequest([]byte(tt.body))
		switch {
		case tt.want == "" && (err != nil || gt != tt.gt):
			t.Errorf("ParseUndoRequest(%.50q) = %d, %v", tt.body, gt, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ParseUndoRequest(%.50q) = %v, want an error containing %q", tt.body, err, tt.want)
		}
	}
}

func TestParsePermittedQuery(t *testing.T) {
	mid := strings.Repeat("cd", 20)
	for _, tt := range []struct {
		query string
		perm  protocol.Permission
		want  string
	}{
		{"member=" + mid + "&message=t", protocol.PermitPerm, ""},
		{"member=" + mid + "&message=t&permission=undo", protocol.UndoPerm, ""},
		{"member=" + mid + "&message=t&permission=all", 0, `permission "all"`},
		{"member=" + mid, 0, "no message type"},
		{"message=t", 0, "member"},
		{"member=" + mid + "&message=t&x=1", 0, `unknown parameter "x"`},
	} {
		q, _ := url.ParseQuery(tt.query)
		pq, err := ParsePermittedQuery(q)
		switch {
		case tt.want == "" && (err != nil || pq.Permission != tt.perm):
			t.Errorf("ParsePermittedQuery(%q) = %+v, %v", tt.query, pq, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ParsePermittedQuery(%q) = %v, want an error containing %q", tt.query, err, tt.want)
		}
	}
}

func FuzzParsePermissionRequest(f *testing.F) {
	for _, s := range []string{`{"member":"` + strings.Repeat("ab", 32) + `","message":"t","permissions":["undo"]}`, `{"member":1}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParsePermissionRequest(body)
		if err != nil {
			return
		}
		if req.Message == "" || req.Perms() == 0 || req.Perms()&^(protocol.PermitPerm|protocol.AuthorizePerm|protocol.RevokePerm|protocol.UndoPerm) != 0 {
			t.Fatalf("accepted request %+v", req)
		}
		if checkMember(req.Member) != nil || checkCommunity(req.Community) != nil {
			t.Fatalf("accepted member %q or community %q", req.Member, req.Community)
		}
	})
}

func FuzzParseUndoRequest(f *testing.F) {
	for _, s := range []string{`{"id":"` + strings.Repeat("cd", 20) + `:42"}`, `{"id":":"}`, `{"community":"","id":"a:b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, gt, err := ParseUndoRequest(body)
		if err == nil && gt == 0 {
			t.Fatal("accepted global time 0")
		}
	})
}
