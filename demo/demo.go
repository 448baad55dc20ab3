// Package demo loads a small world to explore the API with: four users,
// every privacy tier, a friendship with an active conversation, a pending
// request and a shared video.
package demo

import (
	"context"
	"errors"
	"time"

	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/relay"
)

// Password is every demo user's password.
const Password = "password123"

var people = []struct {
	username, name string
	policy         models.DirectMessagePolicy
}{
	{"alice", "Alice", models.PolicyEveryone},
	{"bob", "Bob", models.PolicyFriends},
	{"carol", "Carol", models.PolicySuggestedFriends},
	{"dave", "Dave", models.PolicyNoOne},
}

// Load creates the world on its first run and signs everyone in; a later
// run finds the users there and only signs them in.
func Load(ctx context.Context, svc *dm.Service) ([]*dm.Session, error) {
	sessions := make([]*dm.Session, len(people))
	created := false
	for i, p := range people {
		s, err := svc.Login(ctx, p.username, Password)
		if models.CodeOf(err) == models.CodeUnauthenticated {
			birth := models.Date{Time: time.Date(1998, time.Month(3+i), 14, 0, 0, 0, 0, time.UTC)}
			s, err = svc.Register(ctx, dm.RegisterParams{Username: p.username, Password: Password,
				DisplayName: p.name, BirthDate: birth})
			created = created || err == nil
		}
		if err != nil {
			return nil, err
		}
		sessions[i] = s
	}
	if created {
		if err := build(ctx, svc, sessions); err != nil {
			return nil, err
		}
	}
	return sessions, nil
}

// build adds follows, settings, a conversation, a video and a request.
func build(ctx context.Context, svc *dm.Service, s []*dm.Session) error {
	as := func(i int) context.Context { return models.WithViewer(ctx, s[i].User.ID) }
	alice, bob, carol, dave := 0, 1, 2, 3
	follows := [][2]int{{alice, bob}, {bob, alice}, {carol, alice}, {dave, bob}}
	for _, f := range follows {
		if _, err := svc.Follow(as(f[0]), s[f[1]].User.ID); err != nil {
			return err
		}
	}
	for i, p := range people {
		if _, err := svc.UpdatePrivacySettings(as(i), p.policy); err != nil {
			return err
		}
	}
	video, err := svc.PublishVideo(as(bob), "Sunset timelapse from the pier", "https://videos.example/sunset.mp4", models.VisibilityPublic)
	if err != nil {
		return err
	}
	say := func(from, to int, text string, videoID *int64) error {
		_, err := svc.SendMessage(as(from), dm.SendInput{RecipientID: &s[to].User.ID, Text: &text, VideoID: videoID})
		return err
	}
	errs := []error{
		say(alice, bob, "hey bob! did you see the new dance trend?", nil),
		say(bob, alice, "haha yes, and look at this sunset", &video.ID),
		say(alice, bob, "wow, love it 😍", nil),
		say(carol, alice, "Hi Alice! Loved your last video 🎉 can I ask you something?", nil),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	conv, err := svc.Conversations(as(bob), relay.Args{Limit: 1})
	if err != nil || len(conv.Edges) == 0 {
		return errors.Join(err, errors.New("demo: bob has no conversation"))
	}
	_, err = svc.MarkConversationRead(as(bob), conv.Edges[0].Node.ID)
	return err
}
