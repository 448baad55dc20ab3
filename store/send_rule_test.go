package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"dmgraph/models"
	"dmgraph/testdb"
)

// sendPath is one way a send reaches the database.
type sendPath struct {
	name string
	send func(*Store, context.Context, models.SendParams) (*models.SendResult, error)
}

// sendPaths are the send implementations to run here: the GORM transaction
// on either database, and on PostgreSQL also the batched pgx one that
// production uses there.
func sendPaths() []sendPath {
	paths := []sendPath{{"gorm", (*Store).sendAlone}}
	if testdb.Postgres() {
		paths = append(paths, sendPath{"batch", (*Store).sendPostgres})
	}
	return paths
}

// sendWorld is one case's store, reached through one send path.
type sendWorld struct {
	t    *testing.T
	s    *Store
	path sendPath
}

var sendRuleUsers int

// user creates a user aged age with the stored policy.
func (w *sendWorld) user(age int, policy models.DirectMessagePolicy) int64 {
	w.t.Helper()
	sendRuleUsers++
	u := &models.User{Username: fmt.Sprintf("rule%d", sendRuleUsers), DisplayName: "U", PasswordHash: "x",
		BirthDate: w.s.now().AddDate(-age, 0, -1).Truncate(24 * time.Hour), DMPolicy: policy, CreatedAt: w.s.now()}
	if err := w.s.CreateUser(context.Background(), u); err != nil {
		w.t.Fatal(err)
	}
	return u.ID
}

// send sends a text message, with the cap on new requests if given.
func (w *sendWorld) send(from, to int64, rc ...models.RequestCap) (*models.SendResult, error) {
	text := "hello"
	p := models.SendParams{SenderID: from, RecipientID: to, Text: &text}
	if len(rc) > 0 {
		p.RequestCap = rc[0]
	}
	return w.path.send(w.s, context.Background(), p)
}

// mustSend sends and expects delivery.
func (w *sendWorld) mustSend(from, to int64, want models.Delivery, rc ...models.RequestCap) *models.SendResult {
	w.t.Helper()
	res, err := w.send(from, to, rc...)
	if err != nil {
		w.t.Fatalf("send %d→%d: %v", from, to, err)
	}
	if res.Delivery != want || res.Message.ID == 0 || res.Message.Delivery != want {
		w.t.Fatalf("send %d→%d: delivery %s, message %+v; want %s", from, to, res.Delivery, res.Message, want)
	}
	return res
}

// refused sends and expects the refusal code and reason.
func (w *sendWorld) refused(from, to int64, code models.Code, reason string, rc ...models.RequestCap) *models.Error {
	w.t.Helper()
	res, err := w.send(from, to, rc...)
	var e *models.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		w.t.Fatalf("send %d→%d: %+v, %v; want %s (%s)", from, to, res, err, code, reason)
	}
	return e
}

// status is user's member status in conversation conv.
func (w *sendWorld) status(conv, user int64) models.ConversationStatus {
	w.t.Helper()
	var m models.Member
	if err := w.s.db.Where("conversation_id = ? AND user_id = ?", conv, user).Take(&m).Error; err != nil {
		w.t.Fatal(err)
	}
	return m.Status
}

// requests are the requests of conversation conv, oldest first.
func (w *sendWorld) requests(conv int64) []models.MessageRequest {
	w.t.Helper()
	var rs []models.MessageRequest
	if err := w.s.db.Where("conversation_id = ?", conv).Order("id").Find(&rs).Error; err != nil {
		w.t.Fatal(err)
	}
	return rs
}

// messagesFrom counts the messages user sent.
func (w *sendWorld) messagesFrom(user int64) int64 {
	w.t.Helper()
	var n int64
	if err := w.s.db.Model(&models.Message{}).Where("sender_id = ?", user).Count(&n).Error; err != nil {
		w.t.Fatal(err)
	}
	return n
}

// The send rule, one table of cases through every send path: each case
// checks what the send returned and the rows it left.
func TestSendRuleOnEveryPath(t *testing.T) {
	const everyone = models.PolicyEveryone
	cases := []struct {
		name string
		run  func(w *sendWorld)
	}{
		{"first message opens a request", func(w *sendWorld) {
			a, b := w.user(30, everyone), w.user(30, everyone)
			res := w.mustSend(a, b, models.DeliveryRequest)
			conv := res.Message.ConversationID
			if !res.OpenedRequest || res.RequestID == 0 || res.Accepted {
				w.t.Fatalf("result %+v", res)
			}
			if got := res.Conversation.Member; got.UserID != a || got.Status != models.StatusPending ||
				got.LastReadMessageID != res.Message.ID {
				w.t.Fatalf("the sender's member row %+v", got)
			}
			if w.status(conv, b) != models.StatusRequest {
				w.t.Fatalf("recipient status %s", w.status(conv, b))
			}
			if rs := w.requests(conv); len(rs) != 1 || rs[0].ID != res.RequestID || rs[0].Status != models.RequestOpen ||
				rs[0].SenderID != a || rs[0].RecipientID != b || rs[0].MessageCount != 1 || rs[0].LastMessageID != res.Message.ID {
				w.t.Fatalf("requests %+v", rs)
			}
		}},
		{"request extended, then capped at 3 messages", func(w *sendWorld) {
			a, b := w.user(30, everyone), w.user(30, everyone)
			first := w.mustSend(a, b, models.DeliveryRequest)
			for range 2 {
				res := w.mustSend(a, b, models.DeliveryRequest)
				if res.OpenedRequest || res.RequestID != first.RequestID {
					w.t.Fatalf("extension %+v of request %d", res, first.RequestID)
				}
			}
			w.refused(a, b, models.CodeForbidden, models.ReasonRequestLimit)
			if rs := w.requests(first.Message.ConversationID); len(rs) != 1 || rs[0].MessageCount != 3 {
				w.t.Fatalf("requests %+v", rs)
			}
		}},
		{"new requests capped", func(w *sendWorld) {
			twoAnHour := models.RequestCap{Count: 2, Period: time.Hour}
			a, b, c, d := w.user(30, everyone), w.user(30, everyone), w.user(30, everyone), w.user(30, everyone)
			toB := w.mustSend(a, b, models.DeliveryRequest, twoAnHour)
			w.mustSend(a, c, models.DeliveryRequest, twoAnHour)
			e := w.refused(a, d, models.CodeRateLimited, models.ReasonNewRequestLimit, twoAnHour)
			if e.RetryAfter != time.Hour || e.Message != "you have opened too many message requests today" {
				w.t.Fatalf("refusal %+v", e)
			}
			// canMessage reads the same fact.
			text := "?"
			p := models.SendParams{SenderID: a, RecipientID: d, Text: &text, RequestCap: twoAnHour}
			f, err := w.s.SendFacts(context.Background(), p)
			if _, perr := models.PlanSend(f, p, w.s.now()); err != nil || !errors.Is(perr, e) {
				w.t.Fatalf("canMessage: %v, %v", err, perr)
			}
			// Messages that open no new request go ahead: an extension, and
			// a request following one its recipient deleted.
			w.mustSend(a, b, models.DeliveryRequest, twoAnHour)
			if err := w.s.DeleteRequest(context.Background(), b, toB.RequestID); err != nil {
				w.t.Fatal(err)
			}
			if res := w.mustSend(a, b, models.DeliveryRequest, twoAnHour); !res.OpenedRequest {
				w.t.Fatalf("after the deletion: %+v", res)
			}
			w.refused(a, d, models.CodeRateLimited, models.ReasonNewRequestLimit, twoAnHour)
			// A cap of 3 leaves room: the request after the deletion is not new.
			w.mustSend(a, d, models.DeliveryRequest, models.RequestCap{Count: 3, Period: time.Hour})
			w.mustSend(a, w.user(30, everyone), models.DeliveryRequest) // no cap
		}},
		{"reply accepts", func(w *sendWorld) {
			a, b := w.user(30, everyone), w.user(30, everyone)
			req := w.mustSend(a, b, models.DeliveryRequest)
			conv := req.Message.ConversationID
			reply := w.mustSend(b, a, models.DeliveryInbox)
			if !reply.Accepted || reply.RequestID != 0 || reply.Conversation.Member.Status != models.StatusActive {
				w.t.Fatalf("reply %+v", reply)
			}
			if w.status(conv, a) != models.StatusActive || w.status(conv, b) != models.StatusActive {
				w.t.Fatalf("statuses %s, %s", w.status(conv, a), w.status(conv, b))
			}
			if rs := w.requests(conv); len(rs) != 1 || rs[0].Status != models.RequestAccepted || rs[0].ResolvedAt == nil {
				w.t.Fatalf("requests %+v", rs)
			}
			if res := w.mustSend(a, b, models.DeliveryInbox); res.Accepted {
				w.t.Fatalf("nothing was open to accept: %+v", res)
			}
		}},
		{"blocked", func(w *sendWorld) {
			a, b := w.user(30, everyone), w.user(30, everyone)
			if err := w.s.Block(context.Background(), b, a); err != nil {
				w.t.Fatal(err)
			}
			w.refused(a, b, models.CodeForbidden, models.ReasonBlocked)
			w.refused(b, a, models.CodeForbidden, models.ReasonBlocked)
			if n := w.messagesFrom(a) + w.messagesFrom(b); n != 0 {
				w.t.Fatalf("%d messages stored", n)
			}
		}},
		{"clientMessageId repeat", func(w *sendWorld) {
			a, b := w.user(30, everyone), w.user(30, everyone)
			text, cid := "hello", "k1"
			p := models.SendParams{SenderID: a, RecipientID: b, Text: &text, ClientMessageID: &cid}
			if _, err := w.path.send(w.s, context.Background(), p); err != nil {
				w.t.Fatal(err)
			}
			if res, err := w.path.send(w.s, context.Background(), p); !errors.Is(err, models.ErrDuplicate) {
				w.t.Fatalf("the repeat: %+v, %v", res, err)
			}
			if n := w.messagesFrom(a); n != 1 {
				w.t.Fatalf("%d messages stored", n)
			}
		}},
		{"one-way follows", func(w *sendWorld) {
			a, b, c, d := w.user(30, everyone), w.user(30, everyone), w.user(30, models.PolicyFriends), w.user(30, everyone)
			for _, f := range [][2]int64{{b, a}, {a, c}, {a, d}} {
				if err := w.s.Follow(context.Background(), f[0], f[1]); err != nil {
					w.t.Fatal(err)
				}
			}
			w.mustSend(a, b, models.DeliveryInbox)                          // the recipient follows the sender
			w.mustSend(a, d, models.DeliveryRequest)                        // only the sender follows
			w.refused(a, c, models.CodeForbidden, models.ReasonFriendsOnly) // only the sender follows
			w.mustSend(c, a, models.DeliveryInbox)                          // the recipient follows the sender
		}},
		{"age bands", func(w *sendWorld) {
			adult, teen13, teen16 := w.user(30, everyone), w.user(14, models.PolicyNoOne), w.user(17, everyone)
			w.refused(teen13, adult, models.CodeForbidden, models.ReasonAgeRestricted)
			w.refused(adult, teen13, models.CodeForbidden, models.ReasonRecipientAllowsNoOne)
			// 16–17: EVERYONE narrows to friends and suggested friends, for
			// others; they may still write to strangers.
			w.refused(adult, teen16, models.CodeForbidden, models.ReasonFriendsAndSuggestedOnly)
			w.mustSend(teen16, w.user(30, everyone), models.DeliveryRequest)
			for _, f := range [][2]int64{{adult, teen16}, {teen16, adult}} {
				if err := w.s.Follow(context.Background(), f[0], f[1]); err != nil {
					w.t.Fatal(err)
				}
			}
			w.mustSend(adult, teen16, models.DeliveryInbox)
		}},
	}
	for _, path := range sendPaths() {
		t.Run(path.name, func(t *testing.T) {
			s, err := Open(context.Background(), Config{URL: testdb.URL(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(&sendWorld{t: t, s: s, path: path}) })
			}
		})
	}
}
