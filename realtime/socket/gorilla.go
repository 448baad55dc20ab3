package socket

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"dmgraph/httpx"
)

// writeBuffers is shared by every socket's writes.
var writeBuffers = &sync.Pool{}

// Keepalive is how often the server pings a socket (Ping), and how long a
// silent peer stays connected (Pong).
type Keepalive struct{ Ping, Pong time.Duration }

// DefaultKeepalive is the keep-alive used for Keepalive's zero fields.
var DefaultKeepalive = Keepalive{Ping: 25 * time.Second, Pong: 60 * time.Second}

func (k Keepalive) orDefaults() Keepalive {
	if k.Ping <= 0 {
		k.Ping = DefaultKeepalive.Ping
	}
	if k.Pong <= 0 {
		k.Pong = DefaultKeepalive.Pong
	}
	return k
}

// gorillaWebsocket adapts gorilla/websocket to gqlgen's transport.
type gorillaWebsocket struct {
	upgrader  websocket.Upgrader
	keepalive Keepalive
}

// GorillaWebsocket is the server's websocket implementation for gqlgen's
// transport.Websocket: gorilla/websocket, with small buffers and a
// keep-alive ping on a timer (DefaultKeepalive).
func GorillaWebsocket() transport.WebsocketImplementation { return gorilla(DefaultKeepalive) }

func gorilla(k Keepalive) gorillaWebsocket {
	return gorillaWebsocket{keepalive: k, upgrader: websocket.Upgrader{
		// Admit already refused foreign origins, with a clean 403.
		CheckOrigin: func(*http.Request) bool { return true },
		// Small buffers; net/http's own 4 KiB ones are released after the
		// upgrade (hijackWatcher). Each socket keeps its read buffer for its
		// whole life, and clients send little: pings, completes, and now
		// and then a subscribe, which carries its query and is read in a
		// few pieces.
		ReadBufferSize:  256,
		WriteBufferSize: 1024,
		// Write buffers are borrowed per message, so the mostly idle
		// sockets hold none.
		WriteBufferPool: writeBuffers,
	}}
}

func (g gorillaWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := g.upgrader
	up.Subprotocols = opts.Subprotocols
	hw := &hijackWatcher{ResponseWriter: w}
	c, err := up.Upgrade(hw, r, opts.ResponseHeader)
	if err != nil {
		return nil, err
	}
	hw.releaseBuffers()
	conn := &wsConn{c: c, done: make(chan struct{}), pingEvery: g.keepalive.Ping, pongWithin: g.keepalive.Pong}
	_ = c.SetReadDeadline(time.Now().Add(conn.pongWithin))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(conn.pongWithin)) })
	conn.mu.Lock()
	conn.pinger = time.AfterFunc(conn.pingEvery, conn.ping)
	conn.mu.Unlock()
	if s := sessionFrom(r.Context()); s != nil {
		s.attach(conn)
	}
	return conn, nil
}

// hijackWatcher keeps the buffers net/http hands over with the connection.
// net/http's connection goroutine runs the handler, and gqlgen's socket loop
// runs in the handler, so whatever net/http holds lives as long as the
// socket: its 4 KiB reader and writer among them. Gorilla reads with a
// buffer of its own (ReadBufferSize) and writes only the handshake with
// net/http's writer (later frames use WriteBufferPool), so both are released
// once the upgrade is done.
type hijackWatcher struct {
	http.ResponseWriter
	brw *bufio.ReadWriter
}

func (h *hijackWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.brw = brw
	return c, brw, err
}

func (h *hijackWatcher) releaseBuffers() {
	if h.brw != nil {
		// They are net/http's own (it keeps pointers to them), so their
		// values are replaced, not the pointers. Nothing uses them again:
		// the upgrade refuses a client that sent data before the handshake
		// completed, so the reader held nothing.
		*h.brw.Reader = *bufio.NewReaderSize(eofReader{}, 16)
		*h.brw.Writer = *bufio.NewWriterSize(io.Discard, 16)
	}
}

// eofReader is the released reader's source: nothing more to read.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// wsConn is one gorilla connection. gqlgen serializes its writes; control
// frames (ping, close) may be written concurrently, as gorilla allows.
type wsConn struct {
	c                     *websocket.Conn
	done                  chan struct{}
	doneOnce              sync.Once
	mu                    sync.Mutex
	pinger                *time.Timer // runs ping; a timer, not a goroutine per socket
	pingEvery, pongWithin time.Duration
	ops                   operations
}

// operations are the IDs of the operations running on one socket, as the
// messages both ways tell: a client's subscribe (graphql-ws: start) begins
// one; the client's complete (stop), or the server's complete or error,
// ends it.
type operations struct {
	mu     sync.Mutex
	active map[string]struct{}
	// stopping counts, per ID, the client's completes whose operation the
	// server has yet to end with a message of its own: gqlgen sends
	// complete even then, and that late message must not end a new
	// operation that reuses the ID.
	stopping map[string]int
}

// received notes a client message; false, with the ID, when it starts an
// operation under an ID already running.
func (o *operations) received(b []byte) (string, bool) {
	var m struct{ ID, Type string }
	if json.Unmarshal(b, &m) != nil {
		return "", true // gqlgen answers malformed messages itself
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch m.Type {
	case "subscribe", "start":
		if _, running := o.active[m.ID]; running {
			return m.ID, false
		}
		if o.active == nil {
			o.active = map[string]struct{}{}
		}
		o.active[m.ID] = struct{}{}
	case "complete", "stop":
		if _, running := o.active[m.ID]; running {
			delete(o.active, m.ID)
			if o.stopping == nil {
				o.stopping = map[string]int{}
			}
			o.stopping[m.ID]++
		}
	}
	return "", true
}

// sent notes a server message: gqlgen's, a struct with ID and Type fields.
func (o *operations) sent(v any) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return
	}
	f := messageFields(rv.Type())
	if f.id == nil || f.typ == nil {
		return
	}
	if typ := rv.FieldByIndex(f.typ).String(); typ != "complete" && typ != "error" {
		return
	}
	id := rv.FieldByIndex(f.id).String()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopping[id] > 0 {
		if o.stopping[id]--; o.stopping[id] == 0 {
			delete(o.stopping, id)
		}
		return
	}
	delete(o.active, id)
}

// fieldIndexes locate a message struct's ID and Type fields.
type fieldIndexes struct{ id, typ []int }

var messageFieldCache sync.Map // reflect.Type → fieldIndexes

func messageFields(t reflect.Type) fieldIndexes {
	if f, ok := messageFieldCache.Load(t); ok {
		return f.(fieldIndexes)
	}
	var f fieldIndexes
	if sf, ok := t.FieldByName("ID"); ok && sf.Type.Kind() == reflect.String {
		f.id = sf.Index
	}
	if sf, ok := t.FieldByName("Type"); ok && sf.Type.Kind() == reflect.String {
		f.typ = sf.Index
	}
	messageFieldCache.Store(t, f)
	return f
}

// NextReader reads the next message whole, to see which operation it
// starts or stops: a client that starts one under the ID of one still
// running is disconnected with 4409, as graphql-transport-ws requires (and
// gqlgen would lose track of the first).
func (c *wsConn) NextReader() (int, io.Reader, error) {
	t, r, err := c.c.NextReader()
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return t, r, transport.ErrWebsocketClosed
	}
	if err != nil {
		return t, r, err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(c.pongWithin))
	b, err := io.ReadAll(r)
	if err != nil {
		// Over the read limit: gqlgen reports it as it did.
		return t, io.MultiReader(bytes.NewReader(b), errReader{err}), nil
	}
	// Decoded apart: the read loop's goroutine lives as long as the socket,
	// and keeps the stack its deepest call grew (see apart).
	v, _ := apart(func() (opCheck, error) {
		id, ok := c.ops.received(b)
		return opCheck{id, ok}, nil
	})
	if id, ok := v.id, v.ok; !ok {
		c.closeWith(CloseSubscriberExists, "Subscriber for "+httpx.Truncate(id, 64)+" already exists")
		return t, nil, transport.ErrWebsocketClosed
	}
	return t, bytes.NewReader(b), nil
}

// opCheck is what operations.received says of a client message.
type opCheck struct {
	id string
	ok bool
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (c *wsConn) WriteJSON(v any) error {
	c.ops.sent(v)
	_ = c.c.SetWriteDeadline(time.Now().Add(writeWait))
	return c.c.WriteJSON(v)
}

func (c *wsConn) WriteClose(code int, msg string) error {
	return c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, msg), time.Now().Add(time.Second))
}

func (c *wsConn) Close() error {
	c.doneOnce.Do(func() {
		close(c.done)
		c.mu.Lock()
		c.pinger.Stop()
		c.mu.Unlock()
	})
	return c.c.Close()
}

func (c *wsConn) Subprotocol() string      { return c.c.Subprotocol() }
func (c *wsConn) SetReadLimit(limit int64) { c.c.SetReadLimit(limit) }
func (c *wsConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		t = time.Now().Add(c.pongWithin)
	}
	return c.c.SetReadDeadline(t)
}

// closeWith sends a close frame with code and reason, then drops the
// connection; gqlgen's reader then ends every subscription on it.
func (c *wsConn) closeWith(code int, reason string) {
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}

// ping sends a websocket ping so that a dead peer misses its pong and the
// read deadline ends the connection, then schedules the next one, until the
// connection closes. Idle sockets are most of a server's sockets: a timer
// costs them far less than a goroutine blocked on a ticker.
func (c *wsConn) ping() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pinger.Reset(c.pingEvery)
}

var _ transport.WebsocketImplementation = gorillaWebsocket{}
