package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
)

const (
	createGroupQuery = `mutation($in: CreateGroupInput!) { createGroup(input: $in) { conversation { id } } }`
	groupSendQuery   = `mutation($in: SendMessageInput!) { sendMessage(input: $in) { delivery message { id } } }`
)

// group is a group conversation of the bench's: its creator first, then
// the members the creator added.
type group struct {
	ID      string
	Members []*user
}

// groupCPUTarget is the target: the server CPU per delivered group
// message at most this fraction of one 1:1 fanout message's (one send and
// one delivery).
const groupCPUTarget = 0.25

// setupGroups makes groups of size users each from users (whole groups
// only): each group's first user follows every other, who follows them
// back, and then creates the group with them. Every group has its own
// creator, so the per-creator limits on groups created and people added
// (RATE_LIMIT_GROUPS_CREATED, RATE_LIMIT_GROUP_ADDITIONS) would allow it
// even on a server with its rate limits on.
func setupGroups(ctx context.Context, c *gqlClient, users []*user, size int) ([]group, error) {
	groups := make([]group, len(users)/size)
	for g := range groups {
		groups[g].Members = users[g*size : (g+1)*size]
	}
	follows := size - 1
	_, failed, first := parallel(ctx, len(groups)*follows*2, 16, func(i int) error {
		g := groups[i/(2*follows)]
		creator, member := g.Members[0], g.Members[1+(i%(2*follows))/2]
		from, to := creator, member
		if i%2 == 1 {
			from, to = member, creator
		}
		return c.do(ctx, from.Token, followQuery, map[string]any{"id": to.ID}, nil)
	})
	if failed > 0 {
		return nil, fmt.Errorf("%d follows failed, first: %w", failed, first)
	}
	_, failed, first = parallel(ctx, len(groups), 4*runtime.NumCPU(), func(i int) error {
		g := &groups[i]
		ids := make([]string, 0, size-1)
		for _, u := range g.Members[1:] {
			ids = append(ids, u.ID)
		}
		var out struct {
			CreateGroup struct{ Conversation struct{ ID string } }
		}
		err := c.do(ctx, g.Members[0].Token, createGroupQuery, map[string]any{"in": map[string]any{
			"title": fmt.Sprintf("bench group %d", i), "memberIds": ids,
		}}, &out)
		g.ID = out.CreateGroup.Conversation.ID
		return err
	})
	if failed > 0 {
		return nil, fmt.Errorf("%d createGroup failed, first: %w", failed, first)
	}
	return groups, nil
}

// groupRate is group's rate: -group-rate, or by default fanout's rate
// divided by the group size, so that both deliver as many events per
// second and their CPU per delivery is compared at the same load.
func (b *bench) groupRate() float64 {
	if b.opt.groupRate > 0 {
		return b.opt.groupRate
	}
	return b.fanoutRate() / float64(b.opt.groupSize)
}

// runGroup measures delivery to groups whose every member is subscribed:
// random members send to their groups at a fixed rate, and latency runs to
// the last member's receipt. Its reference is fanout's 1:1 delivery in the
// same run, whose server CPU per message the group's per delivery is held
// against.
func (b *bench) runGroup(ctx context.Context) ([]row, error) {
	if len(b.groups) == 0 {
		return nil, fmt.Errorf("no groups")
	}
	size := len(b.groups[0].Members)
	rate := b.groupRate()
	targets := make([]target, len(b.groups))
	for i, g := range b.groups {
		targets[i] = target{subscribers: g.Members, send: func(ctx context.Context, c *gqlClient, from *user, text string) error {
			return c.do(ctx, from.Token, groupSendQuery, map[string]any{"in": map[string]any{"conversationId": g.ID, "text": text}}, nil)
		}}
	}
	pick := groupPicks(len(b.groups), size, func(g, k int) *user { return b.groups[g].Members[k] })
	m, err := b.runDelivery(ctx, delivery{
		scenario: "group",
		what:     fmt.Sprintf("group send->messageAdded to all, %d groups of %d, %.1f/s", len(b.groups), size, rate),
		sendBase: b.base, subBase: b.base, targets: targets, pick: pick, rate: rate, duration: b.opt.duration,
		per: "delivery (each member's receipt)",
	})
	if err != nil {
		return nil, err
	}
	rows := []row{m}

	// The 1:1 reference: the fanout row of this run, or one measured now.
	var ref *row
	for i := range b.rep.Rows {
		if r := &b.rep.Rows[i]; r.Scenario == "fanout" && !r.Baseline && r.Extra["server_cpu_us_per_op"] > 0 {
			ref = r
		}
	}
	if ref != nil {
		m.Notes = append(m.Notes, "1:1 reference: the fanout row of this run")
	} else {
		if len(b.pairs) == 0 {
			return nil, fmt.Errorf("no friend pairs for the 1:1 reference")
		}
		if err := b.vacuum(ctx); err != nil {
			return nil, err
		}
		logf("group: the 1:1 fanout reference")
		r, err := b.runDelivery(ctx, b.pairDelivery("group", b.fanoutRate(), b.opt.duration))
		if err != nil {
			return nil, fmt.Errorf("1:1 reference: %w", err)
		}
		r.What = "1:1 fanout (reference): " + r.What
		r.Baseline = true
		ref = &r
		rows = append(rows, r)
	}
	groupCPU, refCPU := m.Extra["server_cpu_us_per_op"], ref.Extra["server_cpu_us_per_op"]
	target := fmt.Sprintf("cpu/delivery<=%.2fx 1:1, 0 lost", groupCPUTarget)
	if groupCPU <= 0 || refCPU <= 0 {
		m.Ratio = "cpu n/a"
		m.Target = target + " (no server CPU figure)"
		rows[0] = m
		return rows, nil
	}
	ratio := groupCPU / refCPU
	m.Extra["server_cpu_ratio_to_1to1"] = ratio
	m.Ratio = fmt.Sprintf("cpu %.2fx", ratio)
	if ref.P99Ms > 0 && m.Count > 0 {
		m.Ratio += fmt.Sprintf(" p99 %.2fx", m.P99Ms/ref.P99Ms)
	}
	m.Notes = append(m.Notes, fmt.Sprintf("server CPU per group delivery %.0f µs / per 1:1 message (send and delivery) %.0f µs = %.3f (target <= %.2f)",
		groupCPU, refCPU, ratio, groupCPUTarget))
	verdict(&m, target, ratio <= groupCPUTarget && *m.Lost == 0 && m.Errors == 0)

	// The floor: the same sockets and sends on bench/wsfloor.
	logf("group: the same sockets and sends on bench/wsfloor")
	f, err := b.groupFloor(ctx, len(b.groups), size, rate)
	if err != nil {
		m.Notes = append(m.Notes, "no floor: wsfloor: "+err.Error())
		rows[0] = m
		return rows, nil
	}
	floorCPU := f.Extra["server_cpu_us_per_op"]
	if floorCPU > 0 {
		f.Extra["server_cpu_ratio_to_1to1"] = floorCPU / refCPU
		f.Ratio = fmt.Sprintf("cpu %.2fx", floorCPU/refCPU)
		m.Extra["floor_cpu_us_per_delivery"] = floorCPU
		m.Extra["floor_cpu_ratio_to_1to1"] = floorCPU / refCPU
		below := "above"
		if groupCPUTarget < floorCPU/refCPU {
			below = "below"
		}
		m.Notes = append(m.Notes, fmt.Sprintf("floor: the same sockets and sends on bench/wsfloor (gqlgen's transport and the gorilla adapter alone) cost %.0f µs of server CPU per delivery = %.3f of a 1:1 message: the target %.2f is %s it; dmgraph adds %.0f µs per delivery (%.2fx the floor)",
			floorCPU, floorCPU/refCPU, groupCPUTarget, below, groupCPU-floorCPU, groupCPU/floorCPU))
	}
	rows[0] = m
	return append(rows, f), nil
}

// groupPicks is group's sequence of senders, the same in every run and on
// every server: a random group, and a random member of it (member(g, k) is
// group g's k-th).
func groupPicks(groups, size int, member func(g, k int) *user) func(int) (int, *user) {
	rng := rand.New(rand.NewPCG(5, uint64(groups)))
	return func(int) (int, *user) {
		g := rng.IntN(groups)
		return g, member(g, rng.IntN(size))
	}
}

// groupFloor runs group's delivery on bench/wsfloor: as many groups of as
// many sockets, the same senders at the same rate for as long, each
// message a POST /send that wsfloor hands to its group's subscriptions.
// wsfloor has no users: a socket's token names its group.
func (b *bench) groupFloor(ctx context.Context, groups, size int, rate float64) (row, error) {
	in, err := b.startFloor(ctx, "wsfloor-group.log")
	if err != nil {
		return row{}, err
	}
	defer in.stop()
	members := make([][]*user, groups)
	targets := make([]target, groups)
	for g := range members {
		key := strconv.Itoa(g)
		members[g] = make([]*user, size)
		for k := range members[g] {
			members[g][k] = &user{ID: fmt.Sprintf("%d-%d", g, k), Token: key}
		}
		targets[g] = target{subscribers: members[g], send: func(ctx context.Context, c *gqlClient, _ *user, text string) error {
			return floorSend(ctx, c.http, in.URL, key, text)
		}}
	}
	r, err := b.runDelivery(ctx, delivery{
		scenario: "group",
		what:     fmt.Sprintf("reference: bench/wsfloor, gqlgen transport + gorilla adapter alone, %d groups of %d, %.1f/s", groups, size, rate),
		sendBase: in.URL, subBase: in.URL, targets: targets,
		pick: groupPicks(groups, size, func(g, k int) *user { return members[g][k] }),
		rate: rate, duration: b.opt.duration,
		per: "delivery (each member's receipt)",
	})
	if err != nil {
		return row{}, err
	}
	r.Baseline = true
	if m, err := scrapeMetrics(in.URL); err == nil && m["wsfloor_deliveries_dropped_total"] > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("wsfloor dropped %.0f deliveries on full subscription buffers", m["wsfloor_deliveries_dropped_total"]))
	}
	return r, nil
}

// floorSend posts one message to group on wsfloor at base.
func floorSend(ctx context.Context, c *http.Client, base, group, text string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/send?group="+url.QueryEscape(group), strings.NewReader(text))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("wsfloor /send: HTTP %d", res.StatusCode)
	}
	return nil
}
