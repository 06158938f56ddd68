// Tests of the framing alone, with a Runner that records what it was given:
// OP_MSG in and out (document sequences, moreToCome, checksums), OP_QUERY
// commands answered as OP_REPLY, and messages that end the connection.
package wire

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"roost.local/embedded-db/internal/query"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/wiremessage"
)

type seen struct {
	db   string
	cmd  bsoncore.Document
	seqs map[string][]bsoncore.Document
}

type recorder struct{ calls []seen }

func (r *recorder) Run(ctx context.Context, c *Conn, db string, cmd bsoncore.Document, seqs map[string][]bsoncore.Document) bsoncore.Document {
	r.calls = append(r.calls, seen{db, cmd, seqs})
	return query.BuildDoc("ok", query.VDouble(1), "conn", query.VInt32(c.ID))
}

func newServer() (*Server, *recorder) {
	r := &recorder{}
	return &Server{Runner: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, r
}

func opMsg(reqID int32, flags wiremessage.MsgFlag, body bsoncore.Document, seqID string, seq ...bsoncore.Document) []byte {
	idx, out := wiremessage.AppendHeaderStart(nil, reqID, 0, wiremessage.OpMsg)
	out = wiremessage.AppendMsgFlags(out, flags)
	out = wiremessage.AppendMsgSectionType(out, wiremessage.SingleDocument)
	out = append(out, body...)
	if seqID != "" {
		out = wiremessage.AppendMsgSectionType(out, wiremessage.DocumentSequence)
		sidx, o := bsoncore.ReserveLength(out)
		o = append(o, seqID...)
		o = append(o, 0)
		for _, d := range seq {
			o = append(o, d...)
		}
		out = bsoncore.UpdateLength(o, sidx, int32(len(o[sidx:])))
	}
	binary.LittleEndian.PutUint32(out[idx:], uint32(len(out)))
	return out
}

func TestAnOpMsgIsRunAndAnsweredToItsRequest(t *testing.T) {
	s, r := newServer()
	doc := query.BuildDoc("a", query.VInt32(1))
	msg := opMsg(42, 0, query.BuildDoc("insert", query.VString("x"), "$db", query.VString("roost")), "documents", doc, doc)
	reply, err := s.dispatch(context.Background(), &Conn{ID: 7}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 || r.calls[0].db != "roost" || len(r.calls[0].seqs["documents"]) != 2 {
		t.Fatalf("runner saw %+v", r.calls)
	}
	length, _, responseTo, op, rest, ok := wiremessage.ReadHeader(reply)
	if !ok || int(length) != len(reply) || responseTo != 42 || op != wiremessage.OpMsg {
		t.Fatalf("reply header: length %d of %d, responseTo %d, op %v", length, len(reply), responseTo, op)
	}
	_, rest, _ = wiremessage.ReadMsgFlags(rest)
	_, rest, _ = wiremessage.ReadMsgSectionType(rest)
	body, _, ok := wiremessage.ReadMsgSectionSingleDocument(rest)
	if conn, _ := body.Lookup("conn").Int32OK(); !ok || conn != 7 {
		t.Fatalf("reply body %v", body)
	}
}

func TestMoreToComeIsRunAndNotAnswered(t *testing.T) {
	s, r := newServer()
	reply, err := s.dispatch(context.Background(), &Conn{}, opMsg(1, wiremessage.MoreToCome, query.BuildDoc("ping", query.VInt32(1), "$db", query.VString("admin")), ""))
	if err != nil || reply != nil || len(r.calls) != 1 {
		t.Fatalf("reply %v, err %v, calls %d: want the command run and no reply", reply, err, len(r.calls))
	}
}

func TestAnOpQueryCommandIsAnsweredAsOpReply(t *testing.T) {
	s, r := newServer()
	query1 := func(ns string, q bsoncore.Document) []byte {
		idx, out := wiremessage.AppendHeaderStart(nil, 5, 0, wiremessage.OpQuery)
		out = wiremessage.AppendQueryFlags(out, 0)
		out = wiremessage.AppendQueryFullCollectionName(out, ns)
		out = wiremessage.AppendQueryNumberToSkip(out, 0)
		out = wiremessage.AppendQueryNumberToReturn(out, -1)
		out = append(out, q...)
		binary.LittleEndian.PutUint32(out[idx:], uint32(len(out)))
		return out
	}
	hello := query.BuildDoc("isMaster", query.VInt32(1))
	reply, err := s.dispatch(context.Background(), &Conn{}, query1("admin.$cmd", query.BuildDoc("$query", query.VDoc(hello))))
	if err != nil || len(r.calls) != 1 || r.calls[0].db != "admin" || string(r.calls[0].cmd) != string(hello) {
		t.Fatalf("err %v, calls %+v: want isMaster unwrapped from $query, on admin", err, r.calls)
	}
	if _, _, responseTo, op, _, _ := wiremessage.ReadHeader(reply); responseTo != 5 || op != wiremessage.OpReply {
		t.Fatalf("reply to %d as %v, want to 5 as OP_REPLY", responseTo, op)
	}
	reply, err = s.dispatch(context.Background(), &Conn{}, query1("roost.props", query.BuildDoc()))
	if err != nil || len(r.calls) != 1 || !containsCode(reply, 352) {
		t.Fatalf("a legacy find: err %v, %d calls; want error 352 without running anything", err, len(r.calls))
	}
}

func containsCode(reply []byte, code int32) bool {
	_, _, _, _, rest, _ := wiremessage.ReadHeader(reply)
	_, rest, _ = wiremessage.ReadReplyFlags(rest)
	_, rest, _ = wiremessage.ReadReplyCursorID(rest)
	_, rest, _ = wiremessage.ReadReplyStartingFrom(rest)
	_, rest, _ = wiremessage.ReadReplyNumberReturned(rest)
	doc, _, ok := bsoncore.ReadDocument(rest)
	got, _ := doc.Lookup("code").Int32OK()
	return ok && got == code
}

func TestMessagesItCannotReadAreRefused(t *testing.T) {
	s, r := newServer()
	body := query.BuildDoc("ping", query.VInt32(1), "$db", query.VString("admin"))
	noDB := opMsg(1, 0, body, "")
	for name, msg := range map[string][]byte{
		"short": {1, 2, 3},
		"compressed": func() []byte {
			m := append([]byte(nil), noDB...)
			binary.LittleEndian.PutUint32(m[12:], uint32(wiremessage.OpCompressed))
			return m
		}(),
		"no body": func() []byte { m := opMsg(1, 0, body, ""); return m[:21] }(),
	} {
		if _, err := s.dispatch(context.Background(), &Conn{}, msg); err == nil {
			t.Errorf("%s: answered, want an error that closes the connection", name)
		}
	}
	if len(r.calls) != 0 {
		t.Fatalf("a refused message ran %d commands", len(r.calls))
	}
}

func TestAnOversizedMessageClosesTheConnection(t *testing.T) {
	s, _ := newServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.ServeListener(ctx, ln) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	header := make([]byte, 16)
	binary.LittleEndian.PutUint32(header, MaxMessageBytes+1)
	c.Write(header)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d bytes, %v: want the server to close the connection", n, err)
	}
}
