// Package handler answers MongoDB commands over the storage: one function
// per command, found in one table (commands.go). Run is what the wire
// protocol calls; cursors live here, in memory, until they are read to the
// end, killed, or idle for ten minutes.
package handler

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"
	"roost.local/embedded-db/internal/wire"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Handler runs commands against one store.
type Handler struct {
	store   *storage.Store
	log     *slog.Logger
	started time.Time
	cursors *cursors
	// Connections says how many clients are connected (serverStatus); the
	// wire server knows, and sets it.
	Connections func() int32
}

// New answers commands over st; Expire must run beside it to drop idle cursors.
func New(st *storage.Store, log *slog.Logger) *Handler {
	return &Handler{store: st, log: log, started: time.Now(), cursors: newCursors(), Connections: func() int32 { return 0 }}
}

// Expire drops cursors idle for ten minutes, until ctx ends.
func (s *Handler) Expire(ctx context.Context) { s.cursors.expire(ctx) }

// Run executes one command document (wire.Runner).
func (s *Handler) Run(ctx context.Context, c *wire.Conn, db string, cmd bsoncore.Document, seqs map[string][]bsoncore.Document) bsoncore.Document {
	first, err := cmd.IndexErr(0)
	if err != nil {
		return query.ErrorDoc(query.BadValue("empty command"))
	}
	name := first.Key()
	h := commands[name]
	if h == nil {
		return query.ErrorDoc(query.Errorf(59, "CommandNotFound", "no such command: '%s'", name))
	}
	if db == "" {
		return query.ErrorDoc(query.BadValue("the command has no $db"))
	}
	started := time.Now()
	r := &request{db: db, cmd: cmd, name: name, seqs: seqs, conn: c, started: started}
	// maxTimeMS bounds a read as MongoDB does (Roost's lists set it: a
	// filter no index serves stops here rather than reading on); SQLite's
	// queries run under ctx, so the deadline interrupts them.
	if ms, ok := query.Integer(cmd.Lookup("maxTimeMS")); ok && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	reply, err := h(ctx, s, r)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = query.Errorf(50, "MaxTimeMSExpired", "operation exceeded time limit")
	}
	// Slow is said whether it worked or not: a command that waited and then
	// failed is the one a stall shows.
	if d := time.Since(started); d > 500*time.Millisecond {
		s.log.Info("slow command", "command", name, "db", db, "conn", c.ID, "ms", d.Milliseconds(), "failed", err != nil)
	}
	if err != nil {
		var ce *query.CmdError
		if !errors.As(err, &ce) {
			s.log.Error("command failed", "command", name, "db", db, "err", err)
		}
		return query.ErrorDoc(err)
	}
	return reply
}

// --- cursors ------------------------------------------------------------------------

type cursor struct {
	ns   string
	docs []bsoncore.Document
	used time.Time
}

type cursors struct {
	mu   sync.Mutex
	open map[int64]*cursor
}

func newCursors() *cursors { return &cursors{open: map[int64]*cursor{}} }

func (cs *cursors) put(c *cursor) int64 {
	var b [8]byte
	rand.Read(b[:])
	id := int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	if id == 0 {
		id = 1
	}
	c.used = time.Now()
	cs.mu.Lock()
	cs.open[id] = c
	cs.mu.Unlock()
	return id
}

// take removes and returns a cursor: a getMore owns it until it puts it back.
func (cs *cursors) take(id int64) *cursor {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.open[id]
	delete(cs.open, id)
	return c
}

func (cs *cursors) dropNamespace(prefix string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, c := range cs.open {
		if strings.HasPrefix(c.ns, prefix) {
			delete(cs.open, id)
		}
	}
}

func (cs *cursors) expire(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cs.mu.Lock()
			for id, c := range cs.open {
				if time.Since(c.used) > 10*time.Minute {
					delete(cs.open, id)
				}
			}
			cs.mu.Unlock()
		}
	}
}

// splitBatch takes the first batch of docs: `batch` documents (0: all),
// and never more than 16 MiB.
func splitBatch(docs []bsoncore.Document, batch int64) (first, rest []bsoncore.Document) {
	size := 0
	for i, d := range docs {
		if (batch > 0 && int64(i) >= batch) || (i > 0 && size+len(d) > 16*1024*1024) {
			return docs[:i], docs[i:]
		}
		size += len(d)
	}
	return docs, nil
}

func docArray(docs []bsoncore.Document) bsoncore.Value {
	vals := make([]bsoncore.Value, len(docs))
	for i, d := range docs {
		vals[i] = query.VDoc(d)
	}
	return query.VArray(vals)
}

// cursorReply answers {cursor: {firstBatch, id, ns}}, keeping the rest of
// the documents for getMore. batch 0 means MongoDB's default of 101.
func (s *Handler) cursorReply(r *request, ns string, docs []bsoncore.Document, batch int64, single bool) (bsoncore.Document, error) {
	if batch == 0 {
		if v, err := r.cmd.LookupErr("batchSize"); err != nil || v.Type == bsoncore.TypeNull {
			batch = 101
		}
	}
	if cur, err := r.cmd.LookupErr("cursor"); err == nil {
		if b, ok := query.Integer(cur.Document().Lookup("batchSize")); ok && b > 0 {
			batch = b
		}
	}
	first, rest := docs, []bsoncore.Document(nil)
	if !single {
		first, rest = splitBatch(docs, batch)
	}
	id := int64(0)
	if len(rest) > 0 {
		id = s.cursors.put(&cursor{ns: ns, docs: rest})
	}
	return okDoc("cursor", query.VDoc(query.BuildDoc("firstBatch", docArray(first), "id", query.VInt64(id), "ns", query.VString(ns)))), nil
}
