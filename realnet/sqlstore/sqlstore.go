// Package sqlstore is the peer's persistent protocol.Store: one SQLite
// database file (modernc.org/sqlite, pure Go) in WAL mode holding every
// community the peer serves, which operators can open with the sqlite3
// shell while the peer runs.
//
// # Durability
//
// A DB is used by one goroutine, the node's loop, like every Store. Writes
// go into one open transaction that Flush commits, so that a burst of
// publishes and received messages costs one commit (group commit). The
// database runs with synchronous=FULL: in WAL mode SQLite then syncs the
// write-ahead log to disk at every commit, so a transaction whose Flush
// returned survives a process kill and a power loss. (synchronous=NORMAL
// would sync only at checkpoints: safe against a process kill, but a
// power loss could roll back commits already acknowledged.) The peer
// acknowledges a publish only after the Flush that commits it.
//
// Reads run on the same connection inside the open transaction, so they
// see every write at once, committed or not, exactly as a MemStore does.
//
// # Layout
//
// Table communities maps a community id (cid, 20 bytes) to a small integer
// and keeps its highest global time ever stored; table messages holds one
// row per stored message (member id, global time, type byte, sequence
// number, sync digest, signed packet, undone mark: 0 in force, else the
// row id of the undoing message or -1 for protocol.UndoneByTimeline). Global times above 2^63-1 (never
// produced by the protocol, which caps them there, but valid in a Store)
// are stored as their two's-complement int64 and scanned in unsigned order.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// SchemaVersion is the schema this package writes (PRAGMA user_version).
// Version 1 had no undone column; opening such a file adds it.
const SchemaVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS communities (
	id          INTEGER PRIMARY KEY,
	cid         BLOB    NOT NULL UNIQUE,
	global_time INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
	id          INTEGER PRIMARY KEY,
	community   INTEGER NOT NULL REFERENCES communities(id),
	member      BLOB    NOT NULL,
	global_time INTEGER NOT NULL,
	meta        INTEGER NOT NULL,
	sequence    INTEGER NOT NULL,
	digest      INTEGER NOT NULL,
	packet      BLOB    NOT NULL,
	undone      INTEGER NOT NULL DEFAULT 0,
	UNIQUE (community, member, global_time)
);
CREATE INDEX IF NOT EXISTS messages_sync2 ON messages (community, meta, global_time, member, undone, digest);
`

// DB is one open database file. It is not safe for concurrent use: the
// node's loop owns it.
type DB struct {
	db    *sql.DB
	conn  *sql.Conn
	path  string
	ctx   context.Context
	inTx  bool
	dirty int // writes in the open transaction
	err   error
	st    stmts
	open  map[wire.CID]*Store
	// raised are the stores whose global time Flush must write
	raised []*Store

	// Commits counts the transactions committed by Flush.
	Commits uint64
}

type stmts struct {
	begin, commit, rollback           *sql.Stmt
	insert, get, packetOf, del, setGT *sql.Stmt
	setUndone                         *sql.Stmt
	digests, keepNewest, deleteUpTo   *sql.Stmt
	scanAsc, scanDesc, member         query
}

// Open opens (creating if needed) the database file at path.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(5000)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	ctx := context.Background()
	d := &DB{db: sdb, path: path, ctx: ctx, open: make(map[wire.CID]*Store)}
	if err := d.init(); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	return d, nil
}

func (d *DB) init() error {
	d.db.SetMaxOpenConns(1)
	conn, err := d.db.Conn(d.ctx)
	if err != nil {
		return err
	}
	d.conn = conn
	var mode string
	if err := conn.QueryRowContext(d.ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var version int
	if err := conn.QueryRowContext(d.ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this peer's (%d)", version, SchemaVersion)
	}
	if version < SchemaVersion {
		if version == 1 {
			if _, err := conn.ExecContext(d.ctx, `ALTER TABLE messages ADD COLUMN undone INTEGER NOT NULL DEFAULT 0;
				DROP INDEX IF EXISTS messages_sync`); err != nil {
				return fmt.Errorf("upgrade schema 1 to 2: %w", err)
			}
		}
		if _, err := conn.ExecContext(d.ctx, schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if _, err := conn.ExecContext(d.ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
			return fmt.Errorf("set schema version: %w", err)
		}
	}
	const cols = "id, member, global_time, meta, sequence, digest, undone, packet"
	for _, s := range []struct {
		p   **sql.Stmt
		q   *query
		sql string
	}{
		{&d.st.begin, nil, "BEGIN IMMEDIATE"},
		{&d.st.commit, nil, "COMMIT"},
		{&d.st.rollback, nil, "ROLLBACK"},
		{&d.st.insert, nil, `INSERT INTO messages (community, member, global_time, meta, sequence, digest, undone, packet)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`},
		{&d.st.setUndone, nil, "UPDATE messages SET undone = ? WHERE community = ? AND member = ? AND global_time = ?"},
		{&d.st.get, nil, "SELECT " + cols + " FROM messages WHERE community = ? AND member = ? AND global_time = ?"},
		{&d.st.packetOf, nil, "SELECT packet FROM messages WHERE id = ?"},
		{&d.st.del, nil, "DELETE FROM messages WHERE community = ? AND member = ? AND global_time = ? RETURNING meta"},
		{&d.st.setGT, nil, "UPDATE communities SET global_time = ? WHERE id = ?"},
		{nil, &d.st.scanAsc, "SELECT " + cols + ` FROM messages WHERE community = ? AND meta = ? AND global_time BETWEEN ? AND ?
			ORDER BY global_time, member`},
		{nil, &d.st.scanDesc, "SELECT " + cols + ` FROM messages WHERE community = ? AND meta = ? AND global_time BETWEEN ? AND ?
			ORDER BY global_time DESC, member DESC`},
		{&d.st.digests, nil, `SELECT id, global_time, digest FROM messages WHERE community = ? AND meta = ? AND global_time BETWEEN ? AND ?
			AND undone = 0 ORDER BY global_time, member`},
		{nil, &d.st.member, "SELECT " + cols + ` FROM messages WHERE community = ? AND member = ? AND global_time BETWEEN ? AND ?
			AND meta = ? ORDER BY global_time`},
		{&d.st.keepNewest, nil, `DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE community = ? AND member = ? AND meta = ?
			ORDER BY global_time < 0 DESC, global_time DESC LIMIT -1 OFFSET ?) RETURNING global_time`},
		{&d.st.deleteUpTo, nil, `DELETE FROM messages WHERE community = ? AND meta = ? AND global_time BETWEEN ? AND ? RETURNING global_time`},
	} {
		st, err := conn.PrepareContext(d.ctx, s.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", s.sql, err)
		}
		if s.q != nil {
			*s.q = query{st: st, sql: s.sql}
		} else {
			*s.p = st
		}
	}
	return nil
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// Err returns the first error a Store method met (reads and writes on the
// Store interface cannot return one). A DB that failed refuses every
// further write; the peer stops on it.
func (d *DB) Err() error { return d.err }

func (d *DB) fail(op string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("sqlstore: %s: %w", op, err)
	}
}

// write opens the transaction a write goes into.
func (d *DB) write() error {
	if d.err != nil {
		return d.err
	}
	if !d.inTx {
		if _, err := d.st.begin.ExecContext(d.ctx); err != nil {
			d.fail("begin", err)
			return d.err
		}
		d.inTx = true
	}
	d.dirty++
	return nil
}

// Pending returns how many writes wait in the open transaction.
func (d *DB) Pending() int { return d.dirty }

// Flush commits the open transaction, if any: when it returns nil, every
// write made before it is on disk.
func (d *DB) Flush() error {
	if d.err != nil {
		return d.err
	}
	if !d.inTx {
		return nil
	}
	for _, s := range d.raised {
		if _, err := d.st.setGT.ExecContext(d.ctx, int64(s.maxGT), s.id); err != nil {
			d.fail("write global time", err)
			return d.err
		}
		s.gtDirty = false
	}
	d.raised = d.raised[:0]
	if _, err := d.st.commit.ExecContext(d.ctx); err != nil {
		d.fail("commit", err)
		_, _ = d.st.rollback.ExecContext(d.ctx)
		d.inTx = false
		return d.err
	}
	d.inTx, d.dirty = false, 0
	d.Commits++
	return nil
}

// Close commits what is pending and closes the file.
func (d *DB) Close() error {
	ferr := d.Flush()
	for _, st := range []*sql.Stmt{d.st.begin, d.st.commit, d.st.rollback, d.st.insert, d.st.setUndone, d.st.get, d.st.packetOf,
		d.st.del, d.st.setGT, d.st.scanAsc.st, d.st.scanDesc.st, d.st.digests, d.st.member.st, d.st.keepNewest, d.st.deleteUpTo} {
		if st != nil {
			st.Close()
		}
	}
	var cerr error
	if d.conn != nil {
		cerr = d.conn.Close()
	}
	if err := d.db.Close(); cerr == nil {
		cerr = err
	}
	if ferr != nil {
		return ferr
	}
	if cerr != nil {
		return fmt.Errorf("sqlstore: close %s: %w", d.path, cerr)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil if it
// reports "ok".
func (d *DB) IntegrityCheck() error {
	rows, err := d.conn.QueryContext(d.ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("sqlstore: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []error
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("sqlstore: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, errors.New(line))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlstore: integrity check of %s: %w", d.path, errors.Join(problems...))
	}
	return nil
}

// Communities returns the ids of the communities the database holds.
func (d *DB) Communities() ([]wire.CID, error) {
	rows, err := d.conn.QueryContext(d.ctx, "SELECT cid FROM communities ORDER BY cid")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list communities: %w", err)
	}
	defer rows.Close()
	var out []wire.CID
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlstore: list communities: %w", err)
		}
		var cid wire.CID
		copy(cid[:], b)
		out = append(out, cid)
	}
	return out, rows.Err()
}

// Community returns the store of community cid, creating its row if new.
// Calling it again for the same cid returns the same Store.
func (d *DB) Community(cid wire.CID) (*Store, error) {
	if s := d.open[cid]; s != nil {
		return s, nil
	}
	if d.err != nil {
		return nil, d.err
	}
	s := &Store{db: d, counts: make(map[wire.Type]int)}
	var gt int64
	err := d.conn.QueryRowContext(d.ctx, "SELECT id, global_time FROM communities WHERE cid = ?", cid[:]).Scan(&s.id, &gt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := d.write(); err != nil {
			return nil, err
		}
		res, err := d.conn.ExecContext(d.ctx, "INSERT INTO communities (cid) VALUES (?)", cid[:])
		if err != nil {
			d.fail("add community", err)
			return nil, d.err
		}
		if s.id, err = res.LastInsertId(); err != nil {
			d.fail("add community", err)
			return nil, d.err
		}
	case err != nil:
		return nil, fmt.Errorf("sqlstore: community %x: %w", cid[:], err)
	default:
		s.maxGT = uint64(gt)
		if err := s.loadCounts(); err != nil {
			return nil, fmt.Errorf("sqlstore: community %x: %w", cid[:], err)
		}
	}
	d.open[cid] = s
	return s, nil
}

// Store is one community's messages in a DB; it implements protocol.Store
// and protocol.DigestScanner.
type Store struct {
	db     *DB
	id     int64
	maxGT  uint64
	counts map[wire.Type]int
	high   int // messages with a global time above math.MaxInt64
	// gtDirty: maxGT was raised in the open transaction; Flush writes it
	gtDirty bool
	rec     protocol.Record
	depth   int
}

var (
	_ protocol.Store         = (*Store)(nil)
	_ protocol.DigestScanner = (*Store)(nil)
)

func (s *Store) loadCounts() error {
	rows, err := s.db.conn.QueryContext(s.db.ctx,
		"SELECT meta, count(*), sum(global_time < 0) FROM messages WHERE community = ? GROUP BY meta", s.id)
	if err != nil {
		return fmt.Errorf("count messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var meta, n, high int
		if err := rows.Scan(&meta, &n, &high); err != nil {
			return fmt.Errorf("count messages: %w", err)
		}
		s.counts[wire.Type(meta)] = n
		s.high += high
	}
	return rows.Err()
}

// ranges returns the signed global-time ranges [lo, hi] covers, in
// ascending unsigned order: the values up to MaxInt64 as themselves, those
// above as negative int64s (skipped while the store holds none).
func (s *Store) ranges(lo, hi uint64) [][2]int64 {
	if lo > hi {
		return nil
	}
	var out [][2]int64
	if lo <= math.MaxInt64 {
		out = append(out, [2]int64{int64(lo), int64(min(hi, math.MaxInt64))})
	}
	if hi > math.MaxInt64 && s.high > 0 {
		out = append(out, [2]int64{int64(max(lo, math.MaxInt64+1)), int64(hi)})
	}
	return out
}

// Put implements protocol.Store.
func (s *Store) Put(r *protocol.Record) (uint64, error) {
	d := s.db
	if err := d.write(); err != nil {
		return 0, err
	}
	res, err := d.st.insert.ExecContext(d.ctx, s.id, r.Member[:], int64(r.GlobalTime), int(r.Meta),
		int64(r.Sequence), int64(r.Digest), int64(r.Undone), r.Packet)
	if err != nil {
		d.fail("put", err)
		return 0, d.err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			d.fail("put", err)
			return 0, d.err
		}
		return 0, protocol.ErrExists
	}
	id, err := res.LastInsertId()
	if err != nil {
		d.fail("put", err)
		return 0, d.err
	}
	if r.GlobalTime > s.maxGT {
		s.maxGT = r.GlobalTime
		if !s.gtDirty {
			s.gtDirty = true
			d.raised = append(d.raised, s)
		}
	}
	s.counts[r.Meta]++
	if r.GlobalTime > math.MaxInt64 {
		s.high++
	}
	r.ID = uint64(id)
	return uint64(id), nil
}

// scanRow reads one row of the cols list into r; pkt receives the packet
// (a *sql.RawBytes keeps it only until the next row, a *[]byte copies).
func scanRow(rows *sql.Rows, r *protocol.Record, pkt any) error {
	var id, gt, seq, digest, undone int64
	var meta int
	var member sql.RawBytes
	if err := rows.Scan(&id, &member, &gt, &meta, &seq, &digest, &undone, pkt); err != nil {
		return err
	}
	r.ID, r.GlobalTime, r.Meta, r.Sequence, r.Digest = uint64(id), uint64(gt), wire.Type(meta), uint32(seq), uint64(digest)
	r.Undone = uint64(undone)
	copy(r.Member[:], member)
	return nil
}

// Get implements protocol.Store.
func (s *Store) Get(member protocol.MemberID, gt uint64) (protocol.Record, bool) {
	d := s.db
	if d.err != nil {
		return protocol.Record{}, false
	}
	rows, err := d.st.get.QueryContext(d.ctx, s.id, member[:], int64(gt))
	if err != nil {
		d.fail("get", err)
		return protocol.Record{}, false
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			d.fail("get", err)
		}
		return protocol.Record{}, false
	}
	var r protocol.Record
	if err := scanRow(rows, &r, &r.Packet); err != nil {
		d.fail("get", err)
		return protocol.Record{}, false
	}
	return r, true
}

// Delete implements protocol.Store.
func (s *Store) Delete(member protocol.MemberID, gt uint64) bool {
	d := s.db
	if d.write() != nil {
		return false
	}
	var meta int
	err := d.st.del.QueryRowContext(d.ctx, s.id, member[:], int64(gt)).Scan(&meta)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false
	case err != nil:
		d.fail("delete", err)
		return false
	}
	s.counts[wire.Type(meta)]--
	if gt > math.MaxInt64 {
		s.high--
	}
	return true
}

// SetUndone implements protocol.Store.
func (s *Store) SetUndone(member protocol.MemberID, gt uint64, by uint64) bool {
	d := s.db
	if d.write() != nil {
		return false
	}
	res, err := d.st.setUndone.ExecContext(d.ctx, int64(by), s.id, member[:], int64(gt))
	if err != nil {
		d.fail("set undone", err)
		return false
	}
	n, err := res.RowsAffected()
	if err != nil {
		d.fail("set undone", err)
		return false
	}
	return n > 0
}

// record returns the Record a scan callback gets: one reused while scans
// do not nest, a fresh one inside another scan's callback.
func (s *Store) record() *protocol.Record {
	if s.depth > 0 {
		return new(protocol.Record)
	}
	return &s.rec
}

// query is a prepared statement with its SQL text: a scan nested in
// another's callback cannot step the statement the outer scan is stepping,
// so it prepares the text afresh.
type query struct {
	st  *sql.Stmt
	sql string
}

// each runs q over rgs in order, calling fn for each row until it returns
// false.
func (s *Store) each(op string, q query, rgs [][2]int64, args func(rg [2]int64) []any, fn func(*protocol.Record) bool) {
	d := s.db
	if d.err != nil {
		return
	}
	r := s.record()
	nested := s.depth > 0
	s.depth++
	defer func() { s.depth-- }()
	for _, rg := range rgs {
		var rows *sql.Rows
		var err error
		if nested {
			rows, err = d.conn.QueryContext(d.ctx, q.sql, args(rg)...)
		} else {
			rows, err = q.st.QueryContext(d.ctx, args(rg)...)
		}
		if err != nil {
			d.fail(op, err)
			return
		}
		var pkt sql.RawBytes
		stopped := false
		for rows.Next() {
			if err := scanRow(rows, r, &pkt); err != nil {
				d.fail(op, err)
				rows.Close()
				return
			}
			r.Packet = pkt
			if !fn(r) {
				stopped = true
				break
			}
		}
		err = rows.Err()
		rows.Close()
		r.Packet = nil
		if err != nil {
			d.fail(op, err)
			return
		}
		if stopped {
			return
		}
	}
}

// Scan implements protocol.Store.
func (s *Store) Scan(meta wire.Type, lo, hi uint64, desc bool, fn func(*protocol.Record) bool) {
	rgs := s.ranges(lo, hi)
	q := s.db.st.scanAsc
	if desc {
		q = s.db.st.scanDesc
		for i, j := 0, len(rgs)-1; i < j; i, j = i+1, j-1 {
			rgs[i], rgs[j] = rgs[j], rgs[i]
		}
	}
	s.each("scan", q, rgs, func(rg [2]int64) []any { return []any{s.id, int(meta), rg[0], rg[1]} }, fn)
}

// ScanMember implements protocol.Store.
func (s *Store) ScanMember(member protocol.MemberID, meta wire.Type, fn func(*protocol.Record) bool) {
	s.each("scan member", s.db.st.member, s.ranges(0, math.MaxUint64),
		func(rg [2]int64) []any { return []any{s.id, member[:], rg[0], rg[1], int(meta)} }, fn)
}

// AppendDigests implements protocol.DigestScanner.
func (s *Store) AppendDigests(dst []protocol.DigestEntry, meta wire.Type, lo, hi uint64) []protocol.DigestEntry {
	d := s.db
	if d.err != nil {
		return dst
	}
	for _, rg := range s.ranges(lo, hi) {
		rows, err := d.st.digests.QueryContext(d.ctx, s.id, int(meta), rg[0], rg[1])
		if err != nil {
			d.fail("digests", err)
			return dst
		}
		for rows.Next() {
			var id, gt, digest int64
			if err := rows.Scan(&id, &gt, &digest); err != nil {
				d.fail("digests", err)
				break
			}
			dst = append(dst, protocol.DigestEntry{ID: uint64(id), GlobalTime: uint64(gt), Digest: uint64(digest)})
		}
		if err := rows.Err(); err != nil {
			d.fail("digests", err)
		}
		rows.Close()
	}
	return dst
}

// PacketOf implements protocol.DigestScanner; it returns nil for an ID
// the store does not hold.
func (s *Store) PacketOf(id uint64) []byte {
	d := s.db
	if d.err != nil {
		return nil
	}
	var pkt []byte
	if err := d.st.packetOf.QueryRowContext(d.ctx, int64(id)).Scan(&pkt); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			d.fail("packet", err)
		}
		return nil
	}
	return pkt
}

// deleted applies a DELETE ... RETURNING global_time to the counters.
func (s *Store) deleted(op string, meta wire.Type, rows *sql.Rows, err error) int {
	d := s.db
	if err != nil {
		d.fail(op, err)
		return 0
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var gt int64
		if err := rows.Scan(&gt); err != nil {
			d.fail(op, err)
			return n
		}
		n++
		if gt < 0 {
			s.high--
		}
	}
	if err := rows.Err(); err != nil {
		d.fail(op, err)
	}
	s.counts[meta] -= n
	return n
}

// KeepNewest implements protocol.Store.
func (s *Store) KeepNewest(member protocol.MemberID, meta wire.Type, n int) int {
	d := s.db
	if s.counts[meta] <= n || d.write() != nil {
		return 0
	}
	rows, err := d.st.keepNewest.QueryContext(d.ctx, s.id, member[:], int(meta), max(n, 0))
	return s.deleted("keep newest", meta, rows, err)
}

// DeleteUpTo implements protocol.Store.
func (s *Store) DeleteUpTo(meta wire.Type, gt uint64) int {
	d := s.db
	if s.counts[meta] == 0 || d.write() != nil {
		return 0
	}
	total := 0
	for _, rg := range s.ranges(0, gt) {
		rows, err := d.st.deleteUpTo.QueryContext(d.ctx, s.id, int(meta), rg[0], rg[1])
		total += s.deleted("delete up to", meta, rows, err)
	}
	return total
}

// Count implements protocol.Store.
func (s *Store) Count(meta wire.Type) int { return s.counts[meta] }

// GlobalTime implements protocol.Store.
func (s *Store) GlobalTime() uint64 { return s.maxGT }
