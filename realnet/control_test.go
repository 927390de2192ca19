package realnet

import (
	"errors"
	"net/url"
	"strings"
	"testing"
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
