package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/realnet"
)

// Permission commands: a founder (a peer run with --master) holds every
// permission and hands them out; every command talks to a running peer's
// control socket and prints the id of the message it made once durable.

// masterList is the repeatable --master flag: community master key files.
type masterList []string

func (m *masterList) String() string { return fmt.Sprint(len(*m)) }
func (m *masterList) repeatable()    {}

// Set implements flag.Value.
func (m *masterList) Set(s string) error {
	if s == "" {
		return errors.New("empty master key file name")
	}
	*m = append(*m, s)
	return nil
}

func permissionCommands(client func(fs *flag.FlagSet, o *options)) []command {
	community := func(fs *flag.FlagSet, o *options) {
		fs.StringVar(&o.community, "community", "", "community id (40 hex digits or name; default: the peer's only one)")
	}
	grant := func(fs *flag.FlagSet, o *options) {
		client(fs, o)
		community(fs, o)
		fs.StringVar(&o.member, "member", "", "the member: its public key (64 hex digits, as peer status shows it) or member id (40 hex digits, of a member this peer has messages of); required")
		fs.StringVar(&o.message, "message", "", "message type, e.g. protected-text; required")
		fs.StringVar(&o.permission, "permission", "permit", "permissions, comma-separated: permit, authorize, revoke, undo")
	}
	return []command{
		{name: "permit", summary: "grant a member permissions on a message type (dispersy-authorize); prints the authorize's id",
			flags: grant, run: func(ctx context.Context, o *options, env *cliEnv) error { return runGrant(ctx, o, env, false) }},
		{name: "revoke", summary: "revoke a member's permissions on a message type (dispersy-revoke); prints the revoke's id",
			flags: grant, run: func(ctx context.Context, o *options, env *cliEnv) error { return runGrant(ctx, o, env, true) }},
		{name: "undo", args: "MEMBER:GLOBALTIME", summary: "undo a message (own, or another's with the undo permission); prints the undo's id",
			flags: func(fs *flag.FlagSet, o *options) { client(fs, o); community(fs, o) }, run: runUndo},
		{name: "destroy", summary: "destroy the community for good (dispersy-destroy-community, hard kill; needs --yes)",
			flags: func(fs *flag.FlagSet, o *options) {
				client(fs, o)
				community(fs, o)
				fs.BoolVar(&o.yes, "yes", false, "confirm: every peer that accepts it deletes the community's messages")
			}, run: runDestroy},
		{name: "permitted", summary: "tell whether a member holds a permission on a message type now",
			flags: func(fs *flag.FlagSet, o *options) {
				grant(fs, o)
				fs.BoolVar(&o.json, "json", false, "print JSON")
			}, run: runPermitted},
	}
}

func (o *options) grantRequest() (realnet.PermissionRequest, error) {
	cid, err := o.communityArg()
	if err != nil {
		return realnet.PermissionRequest{}, err
	}
	if o.member == "" || o.message == "" {
		return realnet.PermissionRequest{}, errors.New("--member and --message are required")
	}
	names := splitList(o.permission)
	if _, err := realnet.ParsePermissions(names); err != nil {
		return realnet.PermissionRequest{}, fmt.Errorf("--permission: %w", err)
	}
	return realnet.PermissionRequest{Community: cid, Member: o.member, Message: o.message, Permissions: names}, nil
}

func runGrant(ctx context.Context, o *options, env *cliEnv, revoke bool) error {
	req, err := o.grantRequest()
	if err != nil {
		return err
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	var m realnet.Message
	if revoke {
		m, err = c.Revoke(ctx, req)
	} else {
		m, err = c.Authorize(ctx, req)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, m.ID)
	return nil
}

func runUndo(ctx context.Context, o *options, env *cliEnv) error {
	if len(env.args) != 1 {
		return errors.New("undo needs exactly one argument: the message's MEMBER:GLOBALTIME (as publish and messages print it)")
	}
	if _, _, err := realnet.ParseMessageID(env.args[0]); err != nil {
		return err
	}
	cid, err := o.communityArg()
	if err != nil {
		return err
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	m, err := c.Undo(ctx, realnet.UndoRequest{Community: cid, ID: env.args[0]})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, m.ID)
	return nil
}

func runDestroy(ctx context.Context, o *options, env *cliEnv) error {
	if !o.yes {
		return errors.New("destroy deletes the community on every peer that accepts it and cannot be undone: add --yes")
	}
	cid, err := o.communityArg()
	if err != nil {
		return err
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	m, err := c.Destroy(ctx, realnet.DestroyRequest{Community: cid})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, m.ID)
	return nil
}

func runPermitted(ctx context.Context, o *options, env *cliEnv) error {
	req, err := o.grantRequest()
	if err != nil {
		return err
	}
	if len(req.Permissions) != 1 {
		return errors.New("--permission: name one permission")
	}
	c := realnet.NewClient(o.controlPath())
	defer c.Close()
	ans, err := c.Permitted(ctx, req.Community, req.Member, req.Message, req.Permissions[0])
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(env.stdout).Encode(ans)
	}
	verdict := "permitted"
	if !ans.Permitted {
		verdict = "not permitted"
	}
	fmt.Fprintf(env.stdout, "%s: %s %s on %s at global time %d\n", verdict, ans.Member, ans.Permission, ans.Message, ans.GlobalTime)
	return nil
}

// loadMasters reads the --master key files.
func loadMasters(files []string) ([]protocol.PrivateKey, error) {
	var out []protocol.PrivateKey
	for _, f := range files {
		k, err := readKey(f)
		if err != nil {
			return nil, fmt.Errorf("--master: %w", err)
		}
		out = append(out, k)
	}
	return out, nil
}
