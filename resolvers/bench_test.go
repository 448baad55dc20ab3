package resolvers_test

import "testing"

// BenchmarkInboxPage reads the bench's inbox page (go run ./bench, inbox)
// through the HTTP handler, for a viewer with 20 conversations:
//
//	go test -run '^$' -bench InboxPage -benchmem ./resolvers
func BenchmarkInboxPage(b *testing.B) {
	e := newEnv(b)
	viewer := e.register("viewer")
	for range 20 {
		other := e.register("other")
		e.friends(viewer, other)
		e.send(other, viewer, "hello")
	}
	const page = `query { conversations(first: 20) { edges { node { id participants { id username } lastMessage { text } } } } }`
	b.ReportAllocs()
	for b.Loop() {
		e.must(viewer.Token, page, nil, nil)
	}
}
