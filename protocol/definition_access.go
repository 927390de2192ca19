package protocol

import "github.com/dispersy-go/dispersy/protocol/wire"

// Layouts returns the decoder layouts of the community's message types, for
// drivers that decode stored packets (to show their payloads). Read only.
func (d *Definition) Layouts() *wire.Layouts { return &d.layouts }

// MetaOf returns the message type with type byte t (dispersy-identity
// included), or nil.
func (d *Definition) MetaOf(t wire.Type) *Meta { return d.metaOf(t) }
