package realnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// The control API is HTTP and JSON over a Unix socket:
//
//	GET  /v1/status                                   Status
//	POST /v1/publish   PublishRequest                 Message (once durable)
//	GET  /v1/messages?community=ID&since=GT&limit=N   MessagePage
//
// and the permission endpoints of permcontrol.go. Errors come back with a
// 4xx or 5xx status and an ErrorResponse.

// PublishRequest is the body of POST /v1/publish.
type PublishRequest struct {
	// Community is the 40-hex-digit community id; it may be empty when the
	// peer serves exactly one community.
	Community string `json:"community,omitempty"`
	// Message is the message type's name (default "text").
	Message string `json:"message,omitempty"`
	// Payload is the message's payload (base64 in JSON).
	Payload []byte `json:"payload"`
}

// ErrorResponse is the body of a failed request.
type ErrorResponse struct {
	Error string `json:"error"`
}

// MaxRequestBody bounds a control request's body.
const MaxRequestBody = 1 << 20

// DefaultMessageLimit and MaxMessageLimit bound a page of messages.
const (
	DefaultMessageLimit = 1000
	MaxMessageLimit     = 100000
)

// errBadRequest marks request errors that are the client's to correct.
var errBadRequest = errors.New("bad request")

// ParsePublishRequest decodes and checks a publish request body.
func ParsePublishRequest(body []byte) (PublishRequest, error) {
	var req PublishRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return PublishRequest{}, fmt.Errorf("%w: publish body: %w", errBadRequest, err)
	}
	if dec.More() {
		return PublishRequest{}, fmt.Errorf("%w: publish body: data after the JSON object", errBadRequest)
	}
	if req.Community != "" {
		if _, err := ParseCID(req.Community); err != nil {
			return PublishRequest{}, fmt.Errorf("%w: %w", errBadRequest, err)
		}
	}
	if req.Message == "" {
		req.Message = "text"
	}
	if len(req.Payload) > MaxPayload {
		return PublishRequest{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(req.Payload), MaxPayload)
	}
	return req, nil
}

// MessagesQuery is a parsed GET /v1/messages query.
type MessagesQuery struct {
	Community string
	Since     uint64
	Limit     int
}

// ParseMessagesQuery checks the query of GET /v1/messages.
func ParseMessagesQuery(q url.Values) (MessagesQuery, error) {
	mq := MessagesQuery{Community: q.Get("community"), Limit: DefaultMessageLimit}
	for k := range q {
		if k != "community" && k != "since" && k != "limit" {
			return MessagesQuery{}, fmt.Errorf("%w: unknown parameter %q (want community, since, limit)", errBadRequest, k)
		}
	}
	if mq.Community != "" {
		if _, err := ParseCID(mq.Community); err != nil {
			return MessagesQuery{}, fmt.Errorf("%w: %w", errBadRequest, err)
		}
	}
	if s := q.Get("since"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return MessagesQuery{}, fmt.Errorf("%w: since %q: want a global time (an unsigned integer)", errBadRequest, s)
		}
		mq.Since = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > MaxMessageLimit {
			return MessagesQuery{}, fmt.Errorf("%w: limit %q: want 1 to %d", errBadRequest, s, MaxMessageLimit)
		}
		mq.Limit = v
	}
	return mq, nil
}

// ParseCID parses a 40-hex-digit community id.
func ParseCID(s string) (wire.CID, error) {
	var cid wire.CID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != wire.CIDLen {
		return cid, fmt.Errorf("community id %q: want %d hex digits", s, 2*wire.CIDLen)
	}
	copy(cid[:], b)
	return cid, nil
}

// community resolves a request's community: the one given, or the only
// one the peer serves.
func (p *Peer) community(s string) (wire.CID, error) {
	if s != "" {
		return ParseCID(s)
	}
	if len(p.cfg.Communities) == 1 {
		return p.cfg.Communities[0], nil
	}
	return wire.CID{}, fmt.Errorf("%w: this peer serves %d communities: name one", errBadRequest, len(p.cfg.Communities))
}

// named is a parsed control request that names its community ("" for the
// only one the peer serves).
type named interface{ community() string }

func (r PublishRequest) community() string { return r.Community }
func (q MessagesQuery) community() string  { return q.Community }

// bodyOf turns a parser of a JSON body into a parser of the request
// that handle gives it (handle limits the body to MaxRequestBody bytes).
func bodyOf[Q any](parse func([]byte) (Q, error)) func(*http.Request) (Q, error) {
	return func(r *http.Request) (Q, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var zero Q
			return zero, fmt.Errorf("%w: %w", errBadRequest, err)
		}
		return parse(body)
	}
}

// queryOf turns a parser of a query string into a parser of the request
// that handle gives it.
func queryOf[Q any](parse func(url.Values) (Q, error)) func(*http.Request) (Q, error) {
	return func(r *http.Request) (Q, error) { return parse(r.URL.Query()) }
}

// handle is the HTTP handler of one control endpoint: it parses the
// request (a 400 names what is wrong), resolves the community it names,
// runs do and replies with its result as JSON.
func handle[Q named](p *Peer, parse func(*http.Request) (Q, error), do func(*http.Request, wire.CID, Q) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
		q, err := parse(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		cid, err := p.community(q.community())
		if err != nil {
			reply(w, nil, err)
			return
		}
		v, err := do(r, cid, q)
		reply(w, v, err)
	}
}

// ControlHandler returns the control API's HTTP handler.
func (p *Peer) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status()
		reply(w, st, err)
	})
	mux.HandleFunc("POST /v1/publish", handle(p, bodyOf(ParsePublishRequest), func(r *http.Request, cid wire.CID, req PublishRequest) (any, error) {
		return p.Publish(r.Context(), cid, req.Message, req.Payload)
	}))
	mux.HandleFunc("GET /v1/messages", handle(p, queryOf(ParseMessagesQuery), func(_ *http.Request, cid wire.CID, q MessagesQuery) (any, error) {
		return p.Messages(cid, q.Since, q.Limit)
	}))
	p.permissionRoutes(mux)
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrUnknownCommunity), errors.Is(err, ErrUnknownMember), errors.Is(err, ErrUnknownMessage):
			code = http.StatusNotFound
		case errors.Is(err, ErrNotPermitted):
			code = http.StatusForbidden
		case errors.Is(err, ErrDestroyed):
			code = http.StatusConflict
		case errors.Is(err, errBadRequest), errors.Is(err, ErrUnknownType), errors.Is(err, ErrTooLarge):
			code = http.StatusBadRequest
		case errors.Is(err, ErrClosed):
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		v = ErrorResponse{Error: err.Error()}
	}
	_ = json.NewEncoder(w).Encode(v)
}

// ListenControl creates the control socket at path with mode 0600. A
// stale socket file (nothing listening) is replaced; a live one is an
// error.
func ListenControl(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another peer is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The default path is inside the 0700 data directory, so the moment
	// before the chmod exposes nothing there.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// Serve serves h on l until ctx is done, then shuts the server down
// (giving requests in flight a second); a Unix listener removes its
// socket file when closed.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MetricsHandler serves /metrics (the peer's own registry, Prometheus text
// format) and /healthz (200 while the node's loop answers within a
// second, 503 otherwise).
func (p *Peer) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.metrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan error, 1)
		go func() { done <- p.env.Do(func() {}) }()
		select {
		case err := <-done:
			if err == nil {
				fmt.Fprintln(w, "ok")
				return
			}
			http.Error(w, "stopped: "+err.Error(), http.StatusServiceUnavailable)
		case <-time.After(time.Second):
			http.Error(w, "the node's loop did not answer within 1s", http.StatusServiceUnavailable)
		}
	})
	return mux
}
