package socket

import (
	"context"
	"errors"
	"testing"
)

// A subscription stopped while its start read runs ends with complete, not
// with the read's error; a read that failed on its own still reports it.
func TestStoppedDuringStartEndsQuietly(t *testing.T) {
	readErr := errors.New("read failed")
	ctx, cancel := context.WithCancel(context.Background())
	if ch, err := stopped[int](ctx, readErr); ch != nil || !errors.Is(err, readErr) {
		t.Fatalf("live subscription: %v %v, want the error", ch, err)
	}
	cancel()
	ch, err := stopped[int](ctx, context.Canceled)
	if err != nil || ch == nil {
		t.Fatalf("stopped subscription: %v %v, want a stream", ch, err)
	}
	if _, open := <-ch; open {
		t.Fatal("the stream of a stopped subscription is open")
	}
}
