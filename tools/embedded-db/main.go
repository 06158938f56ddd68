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
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data-dir", "var/db", "directory of the SQLite files, one per database")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "roost-embedded-db: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	abs, err := filepath.Abs(*dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "roost-embedded-db: data dir: %v\n", err)
		os.Exit(1)
	}

	// Data of the FerretDB that was the embedded database before: not read
	// here (its format is FerretDB's own), left as it is, and said out loud
	// so that nobody takes the fresh database for lost data.
	if old, _ := filepath.Glob(filepath.Join(abs, "*.sqlite")); len(old) > 0 {
		for _, f := range old {
			if !strings.HasSuffix(f, dbFileSuffix) {
				fmt.Fprintf(os.Stderr, "roost-embedded-db: %s is FerretDB data from before roost-embedded-db "+
					"(docs/embedded-db.md); it is left untouched and not served\n", f)
			}
		}
	}

	store, err := openStore(abs, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "roost-embedded-db: %v\n", err)
		os.Exit(1)
	}
	defer store.close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := newServer(store, logger)
	logger.Info("serving", "listen", *listen, "dir", abs)
	if err := srv.serve(ctx, *listen); err != nil {
		fmt.Fprintf(os.Stderr, "roost-embedded-db: %v\n", err)
		os.Exit(1)
	}
}
