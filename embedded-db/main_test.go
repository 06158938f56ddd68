// The command line: bad flags are exit 2 with a message, a port it cannot
// take is exit 1, and a served database stops cleanly when asked.
package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{{"-log-level", "loud"}, {"-no-such-flag"}} {
		var out bytes.Buffer
		if got := run(context.Background(), append(args, "-data-dir", t.TempDir()), &out); got != 2 || out.Len() == 0 {
			t.Errorf("%v: exit %d, said %q; want 2 and a message", args, got, out.String())
		}
	}
}

func TestATakenPortExits1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out bytes.Buffer
	if got := run(context.Background(), []string{"-listen-addr", ln.Addr().String(), "-data-dir", t.TempDir()}, &out); got != 1 ||
		!strings.Contains(out.String(), "address already in use") {
		t.Fatalf("exit %d, said %q; want 1 naming the taken address", got, out.String())
	}
}

func TestItServesUntilAskedToStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out bytes.Buffer
	go func() { done <- run(ctx, []string{"-listen-addr", addr, "-data-dir", t.TempDir()}, &out) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving on %s after 10 s: %s", addr, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case got := <-done:
		if got != 0 {
			t.Fatalf("exit %d after a stop: %s", got, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still serving 10 s after it was asked to stop")
	}
}
