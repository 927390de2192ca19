package realnet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestControlHandlerErrors: every endpoint answers a bad request with 400
// and a message naming what is wrong, and a body over MaxRequestBody is
// refused; a good publish and listing go through.
func TestControlHandlerErrors(t *testing.T) {
	tn := startNet(t, 1)
	srv := httptest.NewServer(tn.peers[0].ControlHandler())
	defer srv.Close()
	cid := hex.EncodeToString(tn.cid[:])
	huge := `{"message":"text","payload":"` + strings.Repeat("A", MaxRequestBody) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"publish", "POST", "/v1/publish", `{"message":"text","payload":"aGk="}`, 200, `"global_time"`},
		{"publish unknown field", "POST", "/v1/publish", `{"message":"text","payloads":"aGk="}`, 400, "payloads"},
		{"publish too large", "POST", "/v1/publish", huge, 400, "too large"},
		{"publish bad community", "POST", "/v1/publish", `{"community":"zz","message":"text","payload":"aGk="}`, 400, "community id"},
		{"messages", "GET", "/v1/messages?community=" + cid, "", 200, `"messages"`},
		{"messages bad limit", "GET", "/v1/messages?limit=x", "", 400, "limit"},
		{"messages unknown parameter", "GET", "/v1/messages?sinse=1", "", 400, "sinse"},
		{"authorize no member", "POST", "/v1/authorize", `{"message":"text"}`, 400, "member"},
		{"undo not json", "POST", "/v1/undo", `undo`, 400, "undo"},
		{"destroy unknown field", "POST", "/v1/destroy", `{"community":"` + cid + `","yes":true}`, 400, "yes"},
		{"permitted no message", "GET", "/v1/permitted?member=" + strings.Repeat("ab", 20), "", 400, "message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewBufferString(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got bytes.Buffer
			if _, err := got.ReadFrom(resp.Body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(got.String(), tc.want) {
				t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, got.String(), tc.code, tc.want)
			}
			if tc.code != 200 && !json.Valid(got.Bytes()) {
				t.Errorf("error body is not JSON: %s", got.String())
			}
		})
	}
}
