// roost-embedded-db is the MongoDB-compatible database that `make run` and
// the tests start when no ROOST_MONGODB_URI is given: a server that speaks
// the MongoDB wire protocol (OP_MSG, and OP_QUERY for the first handshake)
// on a loopback address and keeps each database in one SQLite file under
// -data-dir.
//
// Why it exists: FerretDB 1.24 decodes every document of a collection for
// any sorted, counted, skipped or range query, so Roost's lists took seconds
// at 10,000 documents (docs/embedded-db.md). Here every field that a
// createIndexes names gets a column holding an order-preserving key of its
// value (internal/query/keys.go), and each index is a SQLite index over those columns, so
// filters, sorts, skips and counts on indexed fields run inside SQLite's
// B-trees. What cannot be pushed down is still answered correctly, by
// matching documents in Go (internal/query/match.go).
//
// It implements the part of MongoDB that Roost and its tests use (CRUD,
// findAndModify, indexes with unique constraints, count, distinct, a subset
// of aggregation, explain and the profiler) and refuses the rest with
// MongoDB's own error codes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"roost.local/embedded-db/internal/handler"
	"roost.local/embedded-db/internal/storage"
	"roost.local/embedded-db/internal/wire"
	"strings"
	"syscall"
)

// The packages, each with its own tests: internal/wire (the protocol's
// framing), internal/handler (the commands), internal/storage (SQLite
// files, indexes, reads, kept counts) and internal/query (matching,
// sorting and updating documents, in Go).
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run serves until ctx ends and answers the exit status: 2 for bad flags, 1
// when it cannot serve.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("roost-embedded-db", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flags.String("data-dir", "var/db", "directory of the SQLite files, one per database")
	level := flags.String("log-level", "warn", "debug, info, warn or error")
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "roost-embedded-db: bad -log-level: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	abs, err := filepath.Abs(*dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		fmt.Fprintf(stderr, "roost-embedded-db: data dir: %v\n", err)
		return 1
	}

	// Data of the FerretDB that was the embedded database before: not read
	// here (its format is FerretDB's own), left as it is, and said out loud
	// so that nobody takes the fresh database for lost data.
	if old, _ := filepath.Glob(filepath.Join(abs, "*.sqlite")); len(old) > 0 {
		for _, f := range old {
			if !strings.HasSuffix(f, storage.DBFileSuffix) {
				fmt.Fprintf(stderr, "roost-embedded-db: %s is FerretDB data from before roost-embedded-db "+
					"(docs/embedded-db.md); it is left untouched and not served\n", f)
			}
		}
	}

	store, err := storage.Open(abs, logger)
	if err != nil {
		fmt.Fprintf(stderr, "roost-embedded-db: %v\n", err)
		return 1
	}
	defer store.Close()

	h := handler.New(store, logger)
	srv := &wire.Server{Runner: h, Log: logger}
	h.Connections = srv.Connections
	go h.Expire(ctx)
	logger.Info("serving", "listen", *listen, "dir", abs)
	if err := srv.Serve(ctx, *listen); err != nil {
		fmt.Fprintf(stderr, "roost-embedded-db: %v\n", err)
		return 1
	}
	return 0
}
