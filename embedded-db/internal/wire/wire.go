// Package wire speaks MongoDB's wire protocol: a goroutine per connection
// reads OP_MSG (and OP_QUERY, which drivers still use for the first
// handshake), hands each command document to a Runner, and answers OP_MSG
// (or OP_REPLY). It knows nothing of what the commands mean.
package wire

import (
	"context"
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

// MaxMessageBytes is the largest message read (MongoDB's maxMessageSizeBytes).
const MaxMessageBytes = 48000000

// Conn is one client connection, as a command sees it (whatsmyuri,
// connectionStatus).
type Conn struct {
	ID     int32
	Remote string
}

// Runner answers one command document of database db; seqs are the OP_MSG
// document sequences (e.g. an insert's "documents"), by name.
type Runner interface {
	Run(ctx context.Context, c *Conn, db string, cmd bsoncore.Document, seqs map[string][]bsoncore.Document) bsoncore.Document
}

// Server accepts connections and answers their messages with Runner.
type Server struct {
	Runner      Runner
	Log         *slog.Logger
	connections atomic.Int32
	nextConn    atomic.Int32
}

// Connections is how many clients are connected now (serverStatus).
func (s *Server) Connections() int32 { return s.connections.Load() }

// Serve listens on addr until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ServeListener(ctx, ln)
	return nil
}

// ServeListener answers the connections ln accepts until ctx ends, then
// closes ln and waits for every connection to end.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.Log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, c)
		}()
	}
	wg.Wait()
}

func (s *Server) handle(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	s.connections.Add(1)
	defer s.connections.Add(-1)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &Conn{ID: s.nextConn.Add(1), Remote: nc.RemoteAddr().String()}
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
		if length < 16 || length > MaxMessageBytes {
			s.Log.Warn("message of a bad length; closing", "length", length, "remote", c.Remote)
			return
		}
		msg := make([]byte, length)
		copy(msg, header)
		if _, err := io.ReadFull(nc, msg[16:]); err != nil {
			return
		}
		reply, err := s.dispatch(ctx, c, msg)
		if err != nil {
			s.Log.Warn("bad message; closing", "err", err, "remote", c.Remote)
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
func (s *Server) dispatch(ctx context.Context, c *Conn, msg []byte) ([]byte, error) {
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
		reply := s.Runner.Run(ctx, c, dbName, body, seqs)
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
			reply = s.Runner.Run(ctx, c, db, legacy, nil)
		} else {
			reply = query.ErrorDoc(query.Errorf(352, "UnsupportedOpQueryCommand", "OP_QUERY is only answered for commands"))
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
