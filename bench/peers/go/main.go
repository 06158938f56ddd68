// Go peer for the Roost benchmark: net/http + the official mongo-driver (v1),
// serving GET /api/v1/users/{id}. Config: PEER_PORT, MONGODB_URI, PEER_DB.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

type user struct {
	ID        int64  `bson:"_id" json:"id"`
	Username  string `bson:"username" json:"username"`
	FirstName string `bson:"first_name" json:"first_name"`
	LastName  string `bson:"last_name" json:"last_name"`
	Name      string `bson:"name" json:"name"`
	BirthDate string `bson:"birth_date" json:"birth_date"`
	CreatedAt int64  `bson:"created_at" json:"created_at"`
	UpdatedAt int64  `bson:"updated_at" json:"updated_at"`
	Version   int64  `bson:"version" json:"version"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func main() {
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(os.Getenv("MONGODB_URI")))
	if err != nil {
		log.Fatal(err)
	}
	users := client.Database(os.Getenv("PEER_DB")).Collection("users")
	findOpts := options.FindOne().SetProjection(bson.D{
		{Key: "password_hash", Value: 0}, {Key: "username_key", Value: 0}, {Key: "rid", Value: 0},
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_id"})
			return
		}
		var u user
		err = users.FindOne(r.Context(), bson.D{{Key: "_id", Value: id}}, findOpts).Decode(&u)
		if errors.Is(err, mongo.ErrNoDocuments) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		if err != nil {
			log.Print(err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal"})
			return
		}
		w.Header().Set("ETag", `"`+strconv.FormatInt(u.Version, 10)+`"`)
		writeJSON(w, http.StatusOK, u)
	})

	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PEER_PORT"), Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		shutdownCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	client.Disconnect(ctx)
}
