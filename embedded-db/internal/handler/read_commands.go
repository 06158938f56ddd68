// The read commands: find, count, distinct, the cursors' getMore and
// killCursors, and the statistics and profiler commands.
package handler

import (
	"context"
	"roost.local/embedded-db/internal/query"
	"roost.local/embedded-db/internal/storage"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// findSpec reads the filter, sort, skip and limit of a find or a count.
func findSpec(r *request, filterName string) (storage.ReadSpec, error) {
	var rs storage.ReadSpec
	q, err := r.docArg(filterName)
	if err != nil {
		return rs, err
	}
	if rs.Filter, err = query.CompileFilter(q); err != nil {
		return rs, err
	}
	rs.FilterKey = string(storage.EmptyDoc)
	if q != nil {
		rs.FilterKey = string(q)
	}
	sortSpec, err := r.docArg("sort")
	if err != nil {
		return rs, err
	}
	if rs.Sort, _, err = query.ParseSort(sortSpec); err != nil {
		return rs, err
	}
	if rs.Skip, err = r.intArg("skip"); err != nil {
		return rs, err
	}
	if rs.Skip < 0 {
		return rs, query.BadValue("skip value must be non-negative, but received: %d", rs.Skip)
	}
	if rs.Limit, err = r.intArg("limit"); err != nil {
		return rs, err
	}
	return rs, nil
}

func cmdFind(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	rs, err := findSpec(r, "filter")
	if err != nil {
		return nil, err
	}
	single := query.Truthy(r.arg("singleBatch"))
	if rs.Limit < 0 {
		rs.Limit, single = -rs.Limit, true
	}
	projSpec, err := r.docArg("projection")
	if err != nil {
		return nil, err
	}
	proj, err := query.ParseProjection(projSpec)
	if err != nil {
		return nil, err
	}
	batch, err := r.intArg("batchSize")
	if err != nil {
		return nil, err
	}
	if batch < 0 {
		return nil, query.BadValue("batchSize must be non-negative")
	}
	db, err := s.store.Database(r.db, false)
	if err != nil {
		return nil, err
	}
	var c *storage.Collection
	if db != nil {
		c = db.Collection(name)
	}
	res := &storage.ReadResult{}
	rs.IDOnly = proj.OnlyID()
	if c != nil {
		if res, err = db.Read(ctx, nil, c, rs); err != nil {
			return nil, err
		}
	}
	docs := res.Docs
	text := query.FindText(rs.Filter)
	if proj != nil && len(proj.Meta) > 0 && text == nil {
		return nil, query.Errorf(40218, "Location40218", "query requires text score metadata, but it is not available")
	}
	if proj != nil {
		for i := range docs {
			switch {
			case text != nil && len(res.Scores) == len(docs):
				docs[i] = proj.ApplyScored(docs[i], res.Scores[i]) // FTS5's, as the read ordered by
			case text != nil:
				docs[i] = proj.ApplyScored(docs[i], text.Score(docs[i]))
			default:
				docs[i] = proj.Apply(docs[i])
			}
		}
	}
	if db != nil {
		s.profile(ctx, db, r, res, int64(len(docs)))
	}
	return s.cursorReply(r, r.db+"."+name, docs, batch, single)
}

func cmdCount(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	rs, err := findSpec(r, "query")
	if err != nil {
		return nil, err
	}
	if rs.Limit < 0 {
		rs.Limit = -rs.Limit
	}
	db, err := s.store.Database(r.db, false)
	if err != nil || db == nil {
		return okDoc("n", query.VInt32(0)), err
	}
	n, res, err := db.Count(ctx, nil, db.Collection(name), rs)
	if err != nil {
		return nil, err
	}
	s.profile(ctx, db, r, res, 1)
	return okDoc("n", query.VInt64(n)), nil
}

func cmdDistinct(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	key, ok := r.arg("key").StringValueOK()
	if !ok || key == "" {
		return nil, query.Errorf(14, "TypeMismatch", "'key' must be a non-empty string")
	}
	rs, err := findSpec(r, "query")
	if err != nil {
		return nil, err
	}
	db, err := s.store.Database(r.db, false)
	if err != nil {
		return nil, err
	}
	var values []bsoncore.Value
	if db != nil {
		res, err := db.Read(ctx, nil, db.Collection(name), storage.ReadSpec{Filter: rs.Filter})
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		parts := query.SplitPath(key)
		for _, d := range res.Docs {
			for _, v := range query.Lookup(d, parts) {
				vals := []bsoncore.Value{v}
				if v.Type == bsoncore.TypeArray {
					vals, _ = v.Array().Values()
				}
				for _, x := range vals {
					if query.Missing(x) {
						continue
					}
					k := string(query.KeyOf(x))
					if !seen[k] {
						seen[k] = true
						values = append(values, x)
					}
				}
			}
		}
		sortValues(values)
	}
	return okDoc("values", query.VArray(values)), nil
}

// --- cursors ------------------------------------------------------------------------

func cmdGetMore(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	id, ok := query.Integer(r.arg("getMore"))
	if !ok {
		return nil, query.Errorf(14, "TypeMismatch", "getMore needs a cursor id")
	}
	batch, err := r.intArg("batchSize")
	if err != nil {
		return nil, err
	}
	cur := s.cursors.take(id)
	if cur == nil {
		return nil, query.Errorf(43, "CursorNotFound", "cursor id %d not found", id)
	}
	docs, rest := splitBatch(cur.docs, batch)
	nextID := int64(0)
	if len(rest) > 0 {
		cur.docs = rest
		nextID = s.cursors.put(cur)
	}
	return okDoc("cursor", query.VDoc(query.BuildDoc("nextBatch", docArray(docs), "id", query.VInt64(nextID), "ns", query.VString(cur.ns)))), nil
}

func cmdKillCursors(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	vals, _ := r.arg("cursors").Array().Values()
	var killed, notFound []bsoncore.Value
	for _, v := range vals {
		id, _ := query.Integer(v)
		if s.cursors.take(id) != nil {
			killed = append(killed, query.VInt64(id))
		} else {
			notFound = append(notFound, query.VInt64(id))
		}
	}
	return okDoc("cursorsKilled", query.VArray(killed), "cursorsNotFound", query.VArray(notFound), "cursorsAlive", query.VArray(nil),
		"cursorsUnknown", query.VArray(nil)), nil
}

// --- statistics and the profiler ------------------------------------------------------

func cmdCollStats(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	name, err := r.collName()
	if err != nil {
		return nil, err
	}
	db, err := s.store.Database(r.db, false)
	if err != nil {
		return nil, err
	}
	var n int64
	nindexes := 1
	if db != nil {
		if c := db.Collection(name); c != nil {
			n, _, err = db.Count(ctx, nil, c, storage.ReadSpec{Filter: query.TrueNode{}})
			if err != nil {
				return nil, err
			}
			nindexes += len(c.Indexes)
		}
	}
	return okDoc("ns", query.VString(r.db+"."+name), "count", query.VInt64(n), "nindexes", query.VInt32(int32(nindexes))), nil
}

func cmdDBStats(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	db, err := s.store.Database(r.db, false)
	if err != nil {
		return nil, err
	}
	colls := 0
	if db != nil {
		db.Mu.RLock()
		colls = len(db.Colls)
		db.Mu.RUnlock()
	}
	return okDoc("db", query.VString(r.db), "collections", query.VInt32(int32(colls))), nil
}

func cmdProfile(ctx context.Context, s *Handler, r *request) (bsoncore.Document, error) {
	level, ok := query.Integer(r.arg("profile"))
	if !ok || level < -1 || level > 2 {
		return nil, query.BadValue("profile level must be -1, 0, 1 or 2")
	}
	db, err := s.store.Database(r.db, true)
	if err != nil {
		return nil, err
	}
	was := db.SetProfileLevel(int32(level))
	return okDoc("was", query.VInt32(was), "slowms", query.VInt32(100), "sampleRate", query.VDouble(1)), nil
}

// sortValues orders distinct values as MongoDB does.
func sortValues(vals []bsoncore.Value) {
	docs := make([]bsoncore.Document, len(vals))
	for i, v := range vals {
		docs[i] = query.BuildDoc("v", v)
	}
	query.SortDocs(docs, []query.SortKey{{Path: "v", Parts: []string{"v"}, Dir: 1}})
	for i, d := range docs {
		vals[i] = d.Lookup("v")
	}
}
