// The wire protocol: a goroutine per connection reads OP_MSG (and OP_QUERY,
// which drivers still use for the first handshake), runs the command, and
// answers OP_MSG (or OP_REPLY). Cursors live here, in memory, until they
// are read to the end, killed, or idle for ten minutes.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"roost.local/embedded-db/internal/query"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/wiremessage"
)

const maxMessageBytes = 48000000

type server struct {
	store       *store
	log         *slog.Logger
	started     time.Time
	cursors     *cursors
	connections atomic.Int32
	nextConn    atomic.Int32
}

type conn struct {
	id     int32
	remote string
}

func newServer(st *store, log *slog.Logger) *server {
	return &server{store: st, log: log, started: time.Now(), cursors: newCursors()}
}

func (s *server) serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go s.cursors.expire(ctx)
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, c)
		}()
	}
	return nil
}

func (s *server) handle(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	s.connections.Add(1)
	defer s.connections.Add(-1)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &conn{id: s.nextConn.Add(1), remote: nc.RemoteAddr().String()}
	go func() {
		<-ctx.Done()
		nc.Close()
	}()
	header := make([]byte, 16)
	for {
		if _, err := io.ReadFull(nc, header); err != nil {
			return
		}
		length := int32(binary.LittleEndian.Uint32(header))
		if length < 16 || length > maxMessageBytes {
			s.log.Warn("message of a bad length; closing", "length", length, "remote", c.remote)
			return
		}
		msg := make([]byte, length)
		copy(msg, header)
		if _, err := io.ReadFull(nc, msg[16:]); err != nil {
			return
		}
		reply, err := s.dispatch(ctx, c, msg)
		if err != nil {
			s.log.Warn("bad message; closing", "err", err, "remote", c.remote)
			return
		}
		if reply == nil {
			continue
		}
		if _, err := nc.Write(reply); err != nil {
			return
		}
	}
}

// dispatch answers one message; a nil reply with no error means "no reply"
// (an OP_MSG with moreToCome).
func (s *server) dispatch(ctx context.Context, c *conn, msg []byte) ([]byte, error) {
	_, reqID, _, op, rest, ok := wiremessage.ReadHeader(msg)
	if !ok {
		return nil, errors.New("short header")
	}
	switch op {
	case wiremessage.OpMsg:
		flags, rest, ok := wiremessage.ReadMsgFlags(rest)
		if !ok {
			return nil, errors.New("bad OP_MSG flags")
		}
		if flags&wiremessage.ChecksumPresent != 0 {
			if len(rest) < 4 {
				return nil, errors.New("bad checksum")
			}
			rest = rest[:len(rest)-4]
		}
		var body bsoncore.Document
		seqs := map[string][]bsoncore.Document{}
		for len(rest) > 0 {
			var stype wiremessage.SectionType
			stype, rest, ok = wiremessage.ReadMsgSectionType(rest)
			if !ok {
				return nil, errors.New("bad section")
			}
			switch stype {
			case wiremessage.SingleDocument:
				body, rest, ok = wiremessage.ReadMsgSectionSingleDocument(rest)
			case wiremessage.DocumentSequence:
				var id string
				var docs []bsoncore.Document
				id, docs, rest, ok = wiremessage.ReadMsgSectionDocumentSequence(rest)
				seqs[id] = append(seqs[id], docs...)
			default:
				return nil, fmt.Errorf("section kind %d", stype)
			}
			if !ok {
				return nil, errors.New("bad section")
			}
		}
		if body == nil {
			return nil, errors.New("OP_MSG without a body")
		}
		dbName, _ := body.Lookup("$db").StringValueOK()
		reply := s.run(ctx, c, dbName, body, seqs)
		if flags&wiremessage.MoreToCome != 0 {
			return nil, nil
		}
		idx, out := wiremessage.AppendHeaderStart(nil, 0, reqID, wiremessage.OpMsg)
		out = wiremessage.AppendMsgFlags(out, 0)
		out = wiremessage.AppendMsgSectionType(out, wiremessage.SingleDocument)
		out = append(out, reply...)
		binary.LittleEndian.PutUint32(out[idx:], uint32(len(out)))
		return out, nil
	case wiremessage.OpQuery:
		_, rest, ok := wiremessage.ReadQueryFlags(rest)
		var ns string
		if ok {
			ns, rest, ok = wiremessage.ReadQueryFullCollectionName(rest)
		}
		if ok {
			_, rest, ok = wiremessage.ReadQueryNumberToSkip(rest)
		}
		if ok {
			_, rest, ok = wiremessage.ReadQueryNumberToReturn(rest)
		}
		var legacy bsoncore.Document
		if ok {
			legacy, _, ok = wiremessage.ReadQueryQuery(rest)
		}
		if !ok {
			return nil, errors.New("bad OP_QUERY")
		}
		var reply bsoncore.Document
		if db, found := strings.CutSuffix(ns, ".$cmd"); found {
			// A legacy command may wrap itself in {$query: {...}}.
			if q, err := legacy.LookupErr("$query"); err == nil && q.Type == bsoncore.TypeEmbeddedDocument {
				legacy = q.Document()
			}
			reply = s.run(ctx, c, db, legacy, nil)
		} else {
			reply = errorReply(query.Errorf(352, "UnsupportedOpQueryCommand", "OP_QUERY is only answered for commands"))
		}
		idx, out := wiremessage.AppendHeaderStart(nil, 0, reqID, wiremessage.OpReply)
		out = wiremessage.AppendReplyFlags(out, wiremessage.AwaitCapable)
		out = wiremessage.AppendReplyCursorID(out, 0)
		out = wiremessage.AppendReplyStartingFrom(out, 0)
		out = wiremessage.AppendReplyNumberReturned(out, 1)
		out = append(out, reply...)
		binary.LittleEndian.PutUint32(out[idx:], uint32(len(out)))
		return out, nil
	case wiremessage.OpCompressed:
		return nil, errors.New("compression was not offered")
	}
	return nil, fmt.Errorf("opcode %d is not served", op)
}

func errorReply(err error) bsoncore.Document {
	var ce *query.CmdError
	if !errors.As(err, &ce) {
		ce = &query.CmdError{Code: 1, Name: "InternalError", Msg: err.Error()}
	}
	return query.BuildDoc("ok", query.VDouble(0), "errmsg", query.VString(ce.Msg), "code", query.VInt32(ce.Code), "codeName", query.VString(ce.Name))
}

// run executes one command document.
func (s *server) run(ctx context.Context, c *conn, db string, cmd bsoncore.Document, seqs map[string][]bsoncore.Document) bsoncore.Document {
	first, err := cmd.IndexErr(0)
	if err != nil {
		return errorReply(query.BadValue("empty command"))
	}
	name := first.Key()
	h := commands[name]
	if h == nil {
		return errorReply(query.Errorf(59, "CommandNotFound", "no such command: '%s'", name))
	}
	if db == "" {
		return errorReply(query.BadValue("the command has no $db"))
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
	if err != nil {
		var ce *query.CmdError
		if !errors.As(err, &ce) {
			s.log.Error("command failed", "command", name, "db", db, "err", err)
		}
		return errorReply(err)
	}
	if d := time.Since(started); d > 500*time.Millisecond {
		s.log.Info("slow command", "command", name, "db", db, "ms", d.Milliseconds())
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
func (s *server) cursorReply(r *request, ns string, docs []bsoncore.Document, batch int64, single bool) (bsoncore.Document, error) {
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
