package realnet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// The permission part of the control API:
//
//	POST /v1/authorize   PermissionRequest   Message (the authorize, once durable)
//	POST /v1/revoke      PermissionRequest   Message (the revoke)
//	POST /v1/undo        UndoRequest         Message (the undo)
//	POST /v1/destroy     DestroyRequest      Message (the destroy-community)
//	GET  /v1/permitted?community=ID&member=M&message=T&permission=P   Permitted

// PermissionRequest is the body of POST /v1/authorize and /v1/revoke.
type PermissionRequest struct {
	// Community is the community id; empty when the peer serves one.
	Community string `json:"community,omitempty"`
	// Member is the member's public key (64 hex digits) or member id (40
	// hex digits, for a member the peer has messages of).
	Member string `json:"member"`
	// Message is the message type's name.
	Message string `json:"message"`
	// Permissions are permit, authorize, revoke and undo (default permit).
	Permissions []string `json:"permissions,omitempty"`

	perms protocol.Permission
}

// Perms returns the permissions named, parsed.
func (r *PermissionRequest) Perms() protocol.Permission { return r.perms }

// ParsePermissions reads a list of permission names.
func ParsePermissions(names []string) (protocol.Permission, error) {
	var perms protocol.Permission
	for _, s := range names {
		p, ok := protocol.ParsePermission(strings.TrimSpace(s))
		if !ok {
			return 0, fmt.Errorf("%w: permission %q: want permit, authorize, revoke or undo", errBadRequest, s)
		}
		perms |= p
	}
	if perms == 0 {
		return protocol.PermitPerm, nil
	}
	return perms, nil
}

func decodeStrict(body []byte, what string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s body: %w", errBadRequest, what, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s body: data after the JSON object", errBadRequest, what)
	}
	return nil
}

func checkCommunity(s string) error {
	if s == "" {
		return nil
	}
	if _, err := ParseCID(s); err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return nil
}

// checkMember checks a member given as a public key or a member id.
func checkMember(s string) error {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != protocol.KeyLen && len(b) != len(protocol.MemberID{})) {
		return fmt.Errorf("%w: member %q: want a %d-hex-digit public key or a %d-hex-digit member id",
			errBadRequest, s, 2*protocol.KeyLen, 2*len(protocol.MemberID{}))
	}
	return nil
}

// ParsePermissionRequest decodes and checks an authorize or revoke body.
func ParsePermissionRequest(body []byte) (PermissionRequest, error) {
	var req PermissionRequest
	if err := decodeStrict(body, "permission", &req); err != nil {
		return PermissionRequest{}, err
	}
	if err := checkCommunity(req.Community); err != nil {
		return PermissionRequest{}, err
	}
	if err := checkMember(req.Member); err != nil {
		return PermissionRequest{}, err
	}
	if req.Message == "" {
		return PermissionRequest{}, fmt.Errorf("%w: no message type named", errBadRequest)
	}
	perms, err := ParsePermissions(req.Permissions)
	if err != nil {
		return PermissionRequest{}, err
	}
	req.perms = perms
	return req, nil
}

// UndoRequest is the body of POST /v1/undo.
type UndoRequest struct {
	Community string `json:"community,omitempty"`
	// ID names the message to undo: "MEMBER:GLOBALTIME".
	ID string `json:"id"`
}

// ParseMessageID reads a message id, "MEMBER:GLOBALTIME".
func ParseMessageID(s string) (protocol.MemberID, uint64, error) {
	var mid protocol.MemberID
	m, g, ok := strings.Cut(s, ":")
	b, err := hex.DecodeString(m)
	if !ok || err != nil || len(b) != len(mid) {
		return mid, 0, fmt.Errorf("%w: message id %q: want MEMBER:GLOBALTIME (40 hex digits, a colon, a number)", errBadRequest, s)
	}
	gt, err := strconv.ParseUint(g, 10, 64)
	if err != nil || gt == 0 {
		return mid, 0, fmt.Errorf("%w: message id %q: the global time must be a number above 0", errBadRequest, s)
	}
	return protocol.MemberID(b), gt, nil
}

// ParseUndoRequest decodes and checks an undo body.
func ParseUndoRequest(body []byte) (UndoRequest, protocol.MemberID, uint64, error) {
	var req UndoRequest
	if err := decodeStrict(body, "undo", &req); err != nil {
		return UndoRequest{}, protocol.MemberID{}, 0, err
	}
	if err := checkCommunity(req.Community); err != nil {
		return UndoRequest{}, protocol.MemberID{}, 0, err
	}
	mid, gt, err := ParseMessageID(req.ID)
	if err != nil {
		return UndoRequest{}, protocol.MemberID{}, 0, err
	}
	return req, mid, gt, nil
}

// DestroyRequest is the body of POST /v1/destroy.
type DestroyRequest struct {
	Community string `json:"community,omitempty"`
}

// PermittedQuery is a parsed GET /v1/permitted query.
type PermittedQuery struct {
	Community, Member, Message string
	Permission                 protocol.Permission
}

// ParsePermittedQuery checks the query of GET /v1/permitted.
func ParsePermittedQuery(q url.Values) (PermittedQuery, error) {
	for k := range q {
		switch k {
		case "community", "member", "message", "permission":
		default:
			return PermittedQuery{}, fmt.Errorf("%w: unknown parameter %q (want community, member, message, permission)", errBadRequest, k)
		}
	}
	pq := PermittedQuery{Community: q.Get("community"), Member: q.Get("member"), Message: q.Get("message")}
	if err := checkCommunity(pq.Community); err != nil {
		return PermittedQuery{}, err
	}
	if err := checkMember(pq.Member); err != nil {
		return PermittedQuery{}, err
	}
	if pq.Message == "" {
		return PermittedQuery{}, fmt.Errorf("%w: no message type named", errBadRequest)
	}
	perm := protocol.PermitPerm
	if s := q.Get("permission"); s != "" {
		var ok bool
		if perm, ok = protocol.ParsePermission(s); !ok {
			return PermittedQuery{}, fmt.Errorf("%w: permission %q: want permit, authorize, revoke or undo", errBadRequest, s)
		}
	}
	pq.Permission = perm
	return pq, nil
}

// undoRequest is a parsed undo body.
type undoRequest struct {
	UndoRequest
	member protocol.MemberID
	gt     uint64
}

func (r PermissionRequest) community() string { return r.Community }
func (r undoRequest) community() string       { return r.Community }
func (r DestroyRequest) community() string    { return r.Community }
func (q PermittedQuery) community() string    { return q.Community }

// parseUndo is ParseUndoRequest for handle.
func parseUndo(body []byte) (undoRequest, error) {
	req, mid, gt, err := ParseUndoRequest(body)
	return undoRequest{req, mid, gt}, err
}

// parseDestroy decodes and checks a destroy body.
func parseDestroy(body []byte) (DestroyRequest, error) {
	var req DestroyRequest
	if err := decodeStrict(body, "destroy", &req); err != nil {
		return req, err
	}
	return req, checkCommunity(req.Community)
}

// permissionRoutes adds the permission endpoints to the control API.
func (p *Peer) permissionRoutes(mux *http.ServeMux) {
	grant := func(revoke bool) http.HandlerFunc {
		return handle(p, bodyOf(ParsePermissionRequest), func(r *http.Request, cid wire.CID, req PermissionRequest) (any, error) {
			return p.Grant(r.Context(), cid, revoke, req.Member, req.Message, req.Perms())
		})
	}
	mux.HandleFunc("POST /v1/authorize", grant(false))
	mux.HandleFunc("POST /v1/revoke", grant(true))
	mux.HandleFunc("POST /v1/undo", handle(p, bodyOf(parseUndo), func(r *http.Request, cid wire.CID, req undoRequest) (any, error) {
		return p.Undo(r.Context(), cid, req.member, req.gt)
	}))
	mux.HandleFunc("POST /v1/destroy", handle(p, bodyOf(parseDestroy), func(r *http.Request, cid wire.CID, _ DestroyRequest) (any, error) {
		return p.Destroy(r.Context(), cid)
	}))
	mux.HandleFunc("GET /v1/permitted", handle(p, queryOf(ParsePermittedQuery), func(_ *http.Request, cid wire.CID, q PermittedQuery) (any, error) {
		return p.Permitted(cid, q.Member, q.Message, q.Permission)
	}))
}
