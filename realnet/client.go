package realnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// Client talks to a peer's control socket.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client of the control socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{path: path, hc: &http.Client{Transport: tr}}
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://peer"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) {
			return fmt.Errorf("control socket %s: %w (is the peer running?)", c.path, ne.Err)
		}
		return fmt.Errorf("control socket %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("control socket %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("control socket %s: %s", c.path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("control socket %s: bad answer: %w", c.path, err)
	}
	return nil
}

// Status returns the peer's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Publish publishes a message and returns it once it is durably stored.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPost, "/v1/publish", req, &m)
	return m, err
}

// Messages returns one page of a community's messages above since.
func (c *Client) Messages(ctx context.Context, community string, since uint64, limit int) (MessagePage, error) {
	q := url.Values{}
	if community != "" {
		q.Set("community", community)
	}
	q.Set("since", strconv.FormatUint(since, 10))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p MessagePage
	err := c.do(ctx, http.MethodGet, "/v1/messages?"+q.Encode(), nil, &p)
	return p, err
}

// AllMessages returns every message above since, page by page.
func (c *Client) AllMessages(ctx context.Context, community string, since uint64) ([]Message, error) {
	var out []Message
	for {
		p, err := c.Messages(ctx, community, since, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Messages...)
		if !p.More || len(p.Messages) == 0 {
			return out, nil
		}
		since = p.Messages[len(p.Messages)-1].GlobalTime
	}
}

// Authorize grants permissions and returns the authorize once durable.
func (c *Client) Authorize(ctx context.Context, req PermissionRequest) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPost, "/v1/authorize", req, &m)
	return m, err
}

// Revoke revokes permissions and returns the revoke once durable.
func (c *Client) Revoke(ctx context.Context, req PermissionRequest) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPost, "/v1/revoke", req, &m)
	return m, err
}

// Undo undoes a message and returns the undo once durable.
func (c *Client) Undo(ctx context.Context, req UndoRequest) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPost, "/v1/undo", req, &m)
	return m, err
}

// Destroy destroys a community and returns the destroy message once durable.
func (c *Client) Destroy(ctx context.Context, req DestroyRequest) (Message, error) {
	var m Message
	err := c.do(ctx, http.MethodPost, "/v1/destroy", req, &m)
	return m, err
}

// Permitted asks whether member holds permission on message now.
func (c *Client) Permitted(ctx context.Context, community, member, message, permission string) (Permitted, error) {
	q := url.Values{}
	if community != "" {
		q.Set("community", community)
	}
	q.Set("member", member)
	q.Set("message", message)
	if permission != "" {
		q.Set("permission", permission)
	}
	var p Permitted
	err := c.do(ctx, http.MethodGet, "/v1/permitted?"+q.Encode(), nil, &p)
	return p, err
}
