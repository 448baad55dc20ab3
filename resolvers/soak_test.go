package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"dmgraph/relay"
	"dmgraph/testdb"
)

// The soak: many senders on a ring of friend pairs send over HTTP with a
// clientMessageId, some of their requests cut short on purpose (the client
// stops waiting; the server may or may not have committed), then either
// retried with the same clientMessageId or abandoned. At the same time, in
// groups of 32 that overlap (the ring's users are in all of them, most
// others in two or three), members send to their group the same way. Every
// user has a subscription to all their conversations; each ring user has
// one to their conversation with the next, and a few members of each group
// one to that group alone. Each subscription drops its websocket at random
// every few seconds (with or without a close frame) and resumes with
// `after`, the last message it received.
//
// Property: every acknowledged send is delivered exactly once to every
// subscription whose scope holds it (a 1:1 message: the sender's and the
// recipient's; a group message: every member's), in per-conversation order;
// a send never acknowledged is stored at most once, and if stored, delivered
// like the others. The 1:1 and the group traffic are reported on two lines,
// "soak:" and "groups soak:".
//
// It sends for 20 s on PostgreSQL (TEST_DATABASE_URL) and 3 s on SQLite, so
// the SQLite run of the suite stays quick while still going through every
// path; setting up the groups and draining add a few seconds. A long run, on either engine (give go test a longer -timeout than
// the duration):
//
//	SOAK_DURATION=5m TEST_DATABASE_URL=postgres://… go test -race -run Soak -timeout 15m -v ./resolvers

// soakDuration is how long the senders send.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a positive Go duration such as 5m", s)
		}
		return d
	}
	if testdb.Postgres() {
		return 20 * time.Second
	}
	return 3 * time.Second
}

const (
	soakPairs        = 6 // users on a ring: user i is friends with i-1 and i+1
	soakSendersEach  = 2 // sending devices per user
	soakMaxDrop      = 4 * time.Second
	soakMinDrop      = time.Second
	soakMaxPause     = 20 * time.Millisecond // between one device's sends
	soakAmbiguous    = 20                    // 1 in this many first attempts is cut short (then retried or abandoned)
	soakSendAttempts = 6
	soakDrainTimeout = 30 * time.Second

	soakGroups      = 4  // created by ring users 0…soakGroups-1
	soakGroupSize   = 32 // the most a group may have, creator included
	soakGroupUsers  = 48 // the ring's users and the others, who are only in groups
	soakGroupScoped = 2  // members per group with a subscription to it alone
)

// soakGroupLoad is how many devices send to each group (a ring user, then
// others) and the longest pause between one device's sends. Each group
// message reaches 34 subscriptions, and each delivery reads the group's
// members again (for the sender); on SQLite under -race, parsing that
// statement costs about 10 ms of CPU, so a few group messages a second fill
// the machine. SQLite gets one slow device per group.
func soakGroupLoad() (devices int, maxPause time.Duration) {
	if testdb.Postgres() {
		return 3, 100 * time.Millisecond
	}
	return 1, time.Second
}

// soakWorld is who is in which conversation; users are numbered, the ring's
// first.
type soakWorld struct {
	users   []user
	conv    []string // conv[i] is the conversation of ring users i and i+1
	groups  [][]int  // each group's members, creator first
	groupID []string
	members map[string][]int // every conversation's members
}

// newSoakWorld registers the users, makes the friends, creates the groups
// and then opens the 1:1 conversations with a seed message each. It returns
// the last seed, after which the subscriptions start: the groups' system
// messages come before it.
func newSoakWorld(e *env) (*soakWorld, string) {
	w := &soakWorld{members: map[string][]int{}}
	for range soakGroupUsers {
		w.users = append(w.users, e.register("soak"))
	}
	made := map[[2]int]bool{}
	befriend := func(a, b int) {
		if k := [2]int{min(a, b), max(a, b)}; !made[k] {
			made[k] = true
			e.friends(w.users[a], w.users[b])
		}
	}
	for i := range soakPairs {
		befriend(i, (i+1)%soakPairs)
	}
	// Group g: ring user g, the rest of the ring, and a window of the
	// others starting at g's share of them; the windows overlap.
	others := soakGroupUsers - soakPairs
	for g := range soakGroups {
		ms := []int{g}
		for i := range soakPairs {
			if i != g {
				ms = append(ms, i)
			}
		}
		for k := 0; len(ms) < soakGroupSize; k++ {
			ms = append(ms, soakPairs+(g*others/soakGroups+k)%others)
		}
		invitees := make([]user, 0, len(ms)-1)
		for _, m := range ms[1:] {
			befriend(g, m)
			invitees = append(invitees, w.users[m])
		}
		id := e.createGroup(w.users[g], fmt.Sprint("soak ", g), invitees...)
		w.groups, w.groupID = append(w.groups, ms), append(w.groupID, id)
		w.members[id] = ms
	}
	var lastSeed string
	for i := range soakPairs {
		j := (i + 1) % soakPairs
		s := e.send(w.users[i], w.users[j], fmt.Sprint("seed ", i))
		w.conv, lastSeed = append(w.conv, s.ConversationID), s.MessageID
		w.members[s.ConversationID] = []int{i, j}
	}
	return w, lastSeed
}

// kind is soakDirect or soakGroup: which report line conv's messages count on.
func (w *soakWorld) kind(conv string) int {
	if slices.Contains(w.groupID, conv) {
		return soakGroup
	}
	return soakDirect
}

const (
	soakDirect = iota
	soakGroup
)

// soakTally is one report line's figures.
type soakTally struct {
	sent, expected, delivered, lost, dups, disorder int
	ambiguous, retries, abandoned, unackedStored    int
	unavailable                                     int // send attempts answered UNAVAILABLE, then retried
}

func TestSoakDeliveryUnderReconnects(t *testing.T) {
	if testing.Short() && os.Getenv("SOAK_DURATION") == "" {
		t.Skip("soak skipped in -short mode")
	}
	duration := soakDuration(t)
	e := newEnv(t)
	setupStart := time.Now()
	w, lastSeed := newSoakWorld(e)
	setup := time.Since(setupStart)
	users := w.users

	ctx, cancel := context.WithTimeout(context.Background(), duration+soakDrainTimeout+30*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	// Subscriptions: one to everything per user, one to conv[i] per ring
	// user i, and a few to one group each.
	var subs []*resumingSub
	var owner []int // subs[k] belongs to users[owner[k]]
	subscribe := func(u int, what, scope string) {
		owner = append(owner, u)
		subs = append(subs, newResumingSub(fmt.Sprintf("%s/%s", users[u].Name, what), e.srv.URL, users[u].Token, scope, lastSeed))
	}
	for i := range users {
		subscribe(i, "all", "")
	}
	for i := range soakPairs {
		subscribe(i, fmt.Sprint("conv", i), w.conv[i])
	}
	for g, ms := range w.groups {
		for k := range soakGroupScoped {
			subscribe(ms[len(ms)-1-k], fmt.Sprint("group", g), w.groupID[g])
		}
	}
	var subWG sync.WaitGroup
	subCtx, stopSubs := context.WithCancel(ctx)
	defer func() { stopSubs(); subWG.Wait() }()
	maxConns := int(duration/soakMinDrop) + 100
	for _, s := range subs {
		s.dropMin, s.dropMax = soakMinDrop, soakMaxDrop
		subWG.Add(1)
		go func() { defer subWG.Done(); s.run(subCtx, maxConns) }()
	}
	// Senders start once every subscription has: so many starting at once
	// take a while on SQLite, and the first sends would wait behind them
	// for longer than the operation timeout.
	for end := time.Now().Add(soakDrainTimeout); e.hub.Subscriptions() < len(subs) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}

	// Senders: each ring user's devices to either neighbour; in each group,
	// a ring user (who sends 1:1 too) and others.
	sendCtx, stopSending := context.WithTimeout(ctx, duration)
	defer stopSending()
	maxPerSender := int(duration/time.Millisecond) + 100 // at most one a millisecond
	var senders []*soakSender
	var sendWG sync.WaitGroup
	start := func(name string, u int, pause time.Duration, targets ...soakTarget) {
		s := &soakSender{name: name, user: users[u], url: e.srv.URL, client: client, targets: targets, maxPause: pause}
		senders = append(senders, s)
		sendWG.Add(1)
		go func() { defer sendWG.Done(); s.run(sendCtx, maxPerSender) }()
	}
	for i := range soakPairs {
		next, prev := (i+1)%soakPairs, (i+soakPairs-1)%soakPairs
		for d := range soakSendersEach {
			start(fmt.Sprintf("%d.%d", i, d), i, soakMaxPause,
				soakTarget{field: "recipientId", id: users[next].ID, conv: w.conv[i]},
				soakTarget{field: "recipientId", id: users[prev].ID, conv: w.conv[prev]})
		}
	}
	groupDevices, groupPause := soakGroupLoad()
	for g, ms := range w.groups {
		devices := []int{(g + 1) % soakPairs}
		for k := 0; len(devices) < groupDevices; k++ {
			devices = append(devices, ms[soakPairs+k])
		}
		for d, u := range devices {
			start(fmt.Sprintf("g%d.%d", g, d), u, groupPause,
				soakTarget{field: "conversationId", id: w.groupID[g], conv: w.groupID[g], group: true})
		}
	}
	sendWG.Wait()
	stopSending()

	acked := map[string]soakAck{} // by message ID
	unacked := map[string]bool{}  // texts of sends never acknowledged
	var problems []string
	var tally [2]soakTally
	for _, s := range senders {
		for _, a := range s.acks {
			if prev, ok := acked[a.MessageID]; ok {
				problems = append(problems, fmt.Sprintf("message %s acknowledged for %s and %s", a.MessageID, prev.Text, a.Text))
			}
			acked[a.MessageID] = a
			tally[w.kind(a.ConversationID)].sent++
		}
		for _, txt := range s.unacked {
			unacked[txt] = true
		}
		kind := soakDirect
		if s.targets[0].group {
			kind = soakGroup
		}
		tally[kind].ambiguous += s.ambiguous
		tally[kind].retries += s.retries
		tally[kind].abandoned += len(s.unacked)
		tally[kind].unavailable += s.unavailable
		problems = append(problems, s.problems...)
	}
	// stored is what the server committed: the acknowledged sends, and the
	// unacknowledged ones that some subscription received. Each subscription
	// must receive those in its scope: its user's conversations, or its one.
	stored := func() (map[string]soakAck, []map[string]bool, [2]int) {
		all := maps.Clone(acked)
		for _, s := range subs {
			for _, d := range s.deliveries() {
				if _, ok := all[d.ID]; !ok && unacked[d.Text] {
					all[d.ID] = soakAck{Text: d.Text, MessageID: d.ID, ConversationID: d.ConversationID}
				}
			}
		}
		expect := make([]map[string]bool, len(subs))
		var total [2]int
		for k, s := range subs {
			expect[k] = map[string]bool{}
			for id, a := range all {
				if (s.scope == "" || s.scope == a.ConversationID) && slices.Contains(w.members[a.ConversationID], owner[k]) {
					expect[k][id] = true
					total[w.kind(a.ConversationID)]++
				}
			}
		}
		return all, expect, total
	}

	// Drain: no more drops; wait for every subscription to catch up, then
	// listen a little longer for late duplicates.
	for _, s := range subs {
		s.stopDropping()
	}
	drainStart := time.Now()
	deadline := drainStart.Add(soakDrainTimeout)
	for time.Now().Before(deadline) {
		_, expect, _ := stored()
		missing := 0
		for k, s := range subs {
			missing += len(s.missing(expect[k]))
		}
		if missing == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	drain := time.Since(drainStart)
	time.Sleep(500 * time.Millisecond)
	stopSubs()
	subWG.Wait()
	// Every socket is gone: the server must have ended every subscription.
	for end := time.Now().Add(5 * time.Second); e.hub.Subscriptions() > 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.hub.Subscriptions(); n > 0 {
		t.Errorf("%d subscriptions still registered after every client left", n)
	}

	// Judge.
	all, expect, wantTotal := stored()
	for kind := range tally {
		tally[kind].expected = wantTotal[kind]
	}
	for id, a := range all {
		if _, ok := acked[id]; !ok {
			tally[w.kind(a.ConversationID)].unackedStored++
		}
	}
	var reconnects, refused int
	closes := map[int]int{}
	textID := map[string]string{} // one stored message per send, across subscriptions
	for k, s := range subs {
		reconnects += s.conns - 1
		refused += s.refused
		for code, n := range s.closes {
			closes[code] += n
		}
		problems = append(problems, s.problems...)
		for conv, n := range s.dups {
			tally[w.kind(conv)].dups += n
		}
		for conv, n := range s.disorder {
			tally[w.kind(conv)].disorder += n
		}
		for _, d := range s.deliveries() {
			if id, ok := textID[d.Text]; ok && id != d.ID {
				tally[w.kind(d.ConversationID)].dups++
				problems = append(problems, fmt.Sprintf("%q was stored twice, as %s and %s", d.Text, id, d.ID))
			}
			textID[d.Text] = d.ID
			switch {
			case expect[k][d.ID]:
				tally[w.kind(d.ConversationID)].delivered++
			case all[d.ID].MessageID != "":
				problems = append(problems, fmt.Sprintf("%s got %s (%q) outside its scope", s.name, d.ID, d.Text))
			case !strings.HasPrefix(d.Text, "seed "):
				problems = append(problems, fmt.Sprintf("%s got %s (%q), which nobody sent", s.name, d.ID, d.Text))
			}
		}
		if miss := s.missing(expect[k]); len(miss) > 0 {
			for _, id := range miss {
				tally[w.kind(all[id].ConversationID)].lost++
			}
			problems = append(problems, fmt.Sprintf("%s never got %d messages, e.g. %s (%q)", s.name, len(miss), miss[0], all[miss[0]].Text))
		}
	}
	// What the server logged as failing. A client that leaves (a dropped
	// socket, a send cut short) cancels the reads it started, which the
	// server logs as errors too; anything else is a failure of its own.
	var canceled int
	for _, line := range strings.Split(e.logs.String(), "\n") {
		switch {
		case !strings.Contains(line, `"level":"ERROR"`):
		case strings.Contains(line, "context canceled"), strings.Contains(line, "operation was canceled"),
			strings.Contains(line, "canceling statement due to user request"):
			canceled++
		default:
			problems = append(problems, "server logged: "+line)
		}
	}
	d, g := tally[soakDirect], tally[soakGroup]
	t.Logf("soak: %d pairs, %d senders, %d subscriptions, %v: %d sent, %d deliveries expected, %d delivered, %d reconnects, %d lost, %d duplicates, %d out of order; %d sends cut short (%d retried, %d abandoned, of which %d stored and delivered too); UNAVAILABLE answers retried: %d sends, %d subscribes; close codes seen %v; %d errors logged for canceled requests; setup %v, drain %v",
		soakPairs, soakPairs*soakSendersEach, len(subs), duration.Round(time.Second), d.sent, d.expected, d.delivered, reconnects, d.lost, d.dups, d.disorder,
		d.ambiguous, d.retries, d.abandoned, d.unackedStored, d.unavailable, refused, closes, canceled, setup.Round(time.Millisecond), drain.Round(time.Millisecond))
	t.Logf("groups soak: %d groups of %d (%d users), %d senders: %d sent, %d of %d delivered, %d lost, %d duplicates, %d out of order; %d sends cut short (%d retried, %d abandoned, of which %d stored and delivered too); %d UNAVAILABLE answers retried",
		soakGroups, soakGroupSize, soakGroupUsers, soakGroups*groupDevices, g.sent, g.delivered, g.expected, g.lost, g.dups, g.disorder,
		g.ambiguous, g.retries, g.abandoned, g.unackedStored, g.unavailable)
	if d.sent == 0 || g.sent == 0 {
		t.Fatalf("nothing was sent: %d 1:1, %d to groups", d.sent, g.sent)
	}
	if reconnects == 0 {
		t.Error("no subscription ever reconnected")
	}
	for i, p := range problems {
		if i == 20 {
			t.Errorf("… and %d more", len(problems)-20)
			break
		}
		t.Error(p)
	}
	for kind, x := range tally {
		if x.lost != 0 || x.dups != 0 || x.disorder != 0 || x.delivered != x.expected {
			t.Errorf("%s: %d lost, %d duplicates, %d out of order, %d of %d delivered",
				[]string{"1:1", "groups"}[kind], x.lost, x.dups, x.disorder, x.delivered, x.expected)
		}
	}
}

// soakAck is an acknowledged send.
type soakAck struct {
	Text                      string
	MessageID, ConversationID string
}

// soakTarget is where a sender sends: a recipient (field recipientId) or a
// group (conversationId), and the conversation the message must land in.
type soakTarget struct {
	field, id, conv string
	group           bool
}

// soakSender is one device sending as fast as the server lets it, with a
// short random pause, each message retried with its clientMessageId until
// acknowledged.
type soakSender struct {
	name     string
	user     user
	targets  []soakTarget
	maxPause time.Duration
	url      string
	client   *http.Client

	acks                            []soakAck
	unacked                         []string // texts of sends never acknowledged
	retries, ambiguous, unavailable int
	problems                        []string
}

func (s *soakSender) run(ctx context.Context, max int) {
	for n := 0; n < max && ctx.Err() == nil; n++ {
		to := s.targets[rand.IntN(len(s.targets))]
		text := fmt.Sprintf("soak %s #%d", s.name, n)
		in := map[string]any{to.field: to.id, "text": text, "clientMessageId": text}
		var got *soakAck
		backoff := 20 * time.Millisecond
		for attempt := 0; attempt < soakSendAttempts && got == nil; attempt++ {
			if attempt > 0 {
				s.retries++
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(attempt) * backoff):
				}
			}
			// Retries of an acknowledged-or-not send go on past the end of
			// the sending phase: it was started, so it is finished.
			timeout := 10 * time.Second
			if attempt == 0 && rand.IntN(soakAmbiguous) == 0 {
				timeout = time.Duration(rand.IntN(60000)) * time.Microsecond
			}
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			res, err := postGraphQL(actx, s.client, s.url, s.user.Token, sendMutation, map[string]any{"in": in})
			cancel()
			if err != nil {
				if timeout >= time.Second {
					s.problems = append(s.problems, fmt.Sprintf("sender %s: %v", s.name, err))
					continue
				}
				// Cut short: the server may or may not have stored it. Half
				// the time the client retries with the same clientMessageId,
				// half the time it gives up.
				s.ambiguous++
				if rand.IntN(2) == 0 {
					break
				}
				continue
			}
			s.problems = append(s.problems, leakProblems("sendMessage", res)...)
			if unavailableErrors(res.Errors) {
				// The server could not answer within its operation timeout
				// (a loaded machine); the send may have committed. As the
				// contract says, retry, with the same clientMessageId.
				s.unavailable++
				backoff = 200 * time.Millisecond
				continue
			}
			if len(res.Errors) > 0 {
				s.problems = append(s.problems, fmt.Sprintf("sender %s: %q refused: %+v", s.name, text, res.Errors))
				continue
			}
			var out struct {
				SendMessage struct {
					Message      struct{ ID, Text string }
					Conversation struct{ ID string }
				}
			}
			if err := json.Unmarshal(res.Data, &out); err != nil || out.SendMessage.Message.ID == "" {
				s.problems = append(s.problems, fmt.Sprintf("sender %s: bad answer %s", s.name, res.Data))
				continue
			}
			if out.SendMessage.Message.Text != text {
				s.problems = append(s.problems, fmt.Sprintf("sender %s: sent %q, acknowledged %q", s.name, text, out.SendMessage.Message.Text))
			}
			if c := out.SendMessage.Conversation.ID; c != to.conv {
				s.problems = append(s.problems, fmt.Sprintf("sender %s: %q landed in conversation %s, not %s", s.name, text, c, to.conv))
			}
			got = &soakAck{Text: text, MessageID: out.SendMessage.Message.ID, ConversationID: out.SendMessage.Conversation.ID}
		}
		if got == nil {
			s.unacked = append(s.unacked, text)
			continue
		}
		s.acks = append(s.acks, *got)
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(rand.Int64N(int64(s.maxPause)))):
			}
		}
	}
}

// postGraphQL posts one operation; unlike env.do it returns transport
// failures, so goroutines other than the test's may use it.
func postGraphQL(ctx context.Context, client *http.Client, baseURL, token, query string, vars map[string]any) (response, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/query", bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return response{}, fmt.Errorf("decode HTTP %d answer: %w", res.StatusCode, err)
	}
	out.Status = res.StatusCode
	return out, nil
}

// leakProblems lists the errors of res that carry no code or betray SQL,
// driver or stack details (visLeak).
func leakProblems(what string, res response) []string {
	var out []string
	for _, err := range res.Errors {
		if code, _ := err.Extensions["code"].(string); code == "" {
			out = append(out, fmt.Sprintf("%s: error without a code: %+v", what, err))
		}
		if visLeak.MatchString(err.Message) {
			out = append(out, fmt.Sprintf("%s: error message %q leaks internals", what, err.Message))
		}
	}
	return out
}

// soakDelivery is one message a subscription received.
type soakDelivery struct {
	ID, Text, ConversationID string
	num                      int64
}

// resumingSub is a messageAdded subscription over graphql-transport-ws that
// reconnects whenever its socket ends, resuming with `after` = the last
// message it received. With dropMax > 0 it also drops its own socket at a
// random moment between dropMin and dropMax after each connect, sometimes
// with a close frame, sometimes by just closing the TCP connection.
type resumingSub struct {
	name, wsURL, token, scope string
	dropMin, dropMax          time.Duration
	dropping                  atomic.Bool

	mu       sync.Mutex
	last     string // the resume point
	lastNum  int64
	lastConv map[string]int64 // per conversation, for the order check
	seen     map[int64]bool
	seenText map[string]string
	got      []soakDelivery
	changed  chan struct{} // closed and replaced on every delivery
	conns    int
	closes   map[int]int
	refused  int            // subscribes answered UNAVAILABLE, then retried
	dups     map[string]int // by conversation
	disorder map[string]int // by conversation
	problems []string
}

func newResumingSub(name, baseURL, token, scope, after string) *resumingSub {
	s := &resumingSub{name: name, wsURL: "ws" + strings.TrimPrefix(baseURL, "http") + "/query", token: token, scope: scope,
		last: after, lastConv: map[string]int64{}, seen: map[int64]bool{}, seenText: map[string]string{},
		changed: make(chan struct{}), closes: map[int]int{}, dups: map[string]int{}, disorder: map[string]int{}}
	if _, n, ok := relay.Parse(after); ok {
		s.lastNum = n
	}
	s.dropping.Store(true)
	return s
}

// stopDropping keeps the current socket open from now on (the one after it,
// if it is being dropped right now).
func (s *resumingSub) stopDropping() { s.dropping.Store(false) }

// run connects and reconnects until ctx ends or maxConns sockets were used.
func (s *resumingSub) run(ctx context.Context, maxConns int) {
	for n := 0; n < maxConns && ctx.Err() == nil; n++ {
		if err := s.session(ctx); err != nil && ctx.Err() == nil {
			// The server refused or failed: wait a little, then resume.
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// session runs one socket until it ends.
func (s *resumingSub) session(ctx context.Context) error {
	d := websocket.Dialer{Subprotocols: []string{protoTransportWS}, HandshakeTimeout: 5 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, _, err := d.DialContext(dctx, s.wsURL, nil)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	s.mu.Lock()
	s.conns++
	after := s.last
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if s.dropMax > 0 && s.dropping.Load() {
		wait := s.dropMin + time.Duration(rand.Int64N(int64(s.dropMax-s.dropMin)+1))
		drop := time.AfterFunc(wait, func() {
			if !s.dropping.Load() {
				return
			}
			if rand.IntN(2) == 0 {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			}
			_ = c.Close()
		})
		defer drop.Stop()
	}

	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteJSON(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"Authorization": "Bearer " + s.token})}); err != nil {
		return err
	}
	vars := map[string]any{"after": after}
	if s.scope != "" {
		vars["c"] = s.scope
	}
	for {
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				s.mu.Lock()
				s.closes[ce.Code]++
				s.mu.Unlock()
			}
			return err
		}
		switch m.Type {
		case "connection_ack":
			if err := c.WriteJSON(wsMsg{ID: "1", Type: "subscribe", Payload: mustMarshal(map[string]any{"query": subMessages, "variables": vars})}); err != nil {
				return err
			}
		case "ping":
			_ = c.WriteJSON(wsMsg{Type: "pong"})
		case "next":
			if unavailable(m.Payload) {
				// The server could not start the subscription within its
				// operation timeout (a loaded machine): as the contract
				// says, retry.
				s.mu.Lock()
				s.refused++
				s.mu.Unlock()
				return errors.New("subscription refused: unavailable")
			}
			s.record(m.Payload)
		case "error", "complete":
			s.mu.Lock()
			s.problems = append(s.problems, fmt.Sprintf("%s: %s %s", s.name, m.Type, m.Payload))
			s.mu.Unlock()
			return fmt.Errorf("subscription ended: %s", m.Type)
		}
	}
}

func (s *resumingSub) record(payload json.RawMessage) {
	var res struct {
		Data *struct {
			MessageAdded *struct {
				ID, Text     string
				Conversation struct{ ID string }
			}
		}
		Errors []gqlError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(payload, &res); err != nil || len(res.Errors) > 0 || res.Data == nil || res.Data.MessageAdded == nil {
		s.problems = append(s.problems, fmt.Sprintf("%s: bad event %s", s.name, payload))
		s.problems = append(s.problems, leakProblems(s.name, response{Errors: res.Errors})...)
		return
	}
	m := res.Data.MessageAdded
	_, num, ok := relay.Parse(m.ID)
	if !ok {
		s.problems = append(s.problems, fmt.Sprintf("%s: bad message ID %q", s.name, m.ID))
		return
	}
	if s.seen[num] {
		s.dups[m.Conversation.ID]++
		s.problems = append(s.problems, fmt.Sprintf("%s: message %s (%q) delivered again", s.name, m.ID, m.Text))
		return
	}
	if other, ok := s.seenText[m.Text]; ok {
		s.dups[m.Conversation.ID]++
		s.problems = append(s.problems, fmt.Sprintf("%s: %q delivered as %s and as %s", s.name, m.Text, other, m.ID))
	}
	if s.scope != "" && m.Conversation.ID != s.scope {
		s.problems = append(s.problems, fmt.Sprintf("%s: message %s of conversation %s", s.name, m.ID, m.Conversation.ID))
	}
	if num <= s.lastConv[m.Conversation.ID] {
		s.disorder[m.Conversation.ID]++
		s.problems = append(s.problems, fmt.Sprintf("%s: message %s after %d in conversation %s", s.name, m.ID, s.lastConv[m.Conversation.ID], m.Conversation.ID))
	}
	if num > s.lastNum {
		s.last, s.lastNum = m.ID, num
	}
	s.lastConv[m.Conversation.ID] = num
	s.seen[num] = true
	s.seenText[m.Text] = m.ID
	s.got = append(s.got, soakDelivery{ID: m.ID, Text: m.Text, ConversationID: m.Conversation.ID, num: num})
	close(s.changed)
	s.changed = make(chan struct{})
}

// unavailable reports whether payload is a refusal of the subscription with
// UNAVAILABLE and nothing else.
func unavailable(payload json.RawMessage) bool {
	var res struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if json.Unmarshal(payload, &res) != nil || (len(res.Data) > 0 && string(res.Data) != "null") {
		return false
	}
	return unavailableErrors(res.Errors)
}

// unavailableErrors reports whether errs are UNAVAILABLE only, and some.
func unavailableErrors(errs []gqlError) bool {
	if len(errs) == 0 {
		return false
	}
	for _, err := range errs {
		if code, _ := err.Extensions["code"].(string); code != "UNAVAILABLE" {
			return false
		}
	}
	return true
}

// missing lists the IDs of want that have not arrived, in ID order.
func (s *resumingSub) missing(want map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nums []int64
	for id := range want {
		if _, n, _ := relay.Parse(id); !s.seen[n] {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = relay.ID(relay.KindMessage, n)
	}
	return out
}

// deliveries returns what arrived so far, in arrival order.
func (s *resumingSub) deliveries() []soakDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]soakDelivery(nil), s.got...)
}

// waitFor waits until the subscription has received n messages in all, and
// reports whether it did within timeout.
func (s *resumingSub) waitFor(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, changed := len(s.got), s.changed
		s.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}
