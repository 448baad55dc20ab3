package models

// This file is the whole privacy rule for direct messages: who may message
// whom, and where an allowed message lands. It is pure: the store gathers
// the facts, Decide judges them.

// PolicyInput is every fact the rules look at, for a message from a sender
// to a recipient.
type PolicyInput struct {
	SenderID    int64
	RecipientID int64
	// Blocked is true when either user has blocked the other.
	Blocked bool
	// SenderPolicy and RecipientPolicy are the users' stored settings; the
	// age rules narrow them (EffectivePolicy).
	SenderPolicy    DirectMessagePolicy
	RecipientPolicy DirectMessagePolicy
	// RecipientFollowsSender and SenderFollowsRecipient make friends when both hold.
	RecipientFollowsSender bool
	SenderFollowsRecipient bool
	// SuggestedToRecipient is true when the sender is among the recipient's
	// suggested friends (synced contacts, Facebook friends).
	SuggestedToRecipient bool
	// RecipientAccepted is true when the recipient has written in or accepted
	// this conversation, and has not blocked the sender since: the recipient
	// invited the contact.
	RecipientAccepted bool
	// RequestMessages is how many request messages the sender has sent since
	// the recipient last accepted one of their requests, counting requests the
	// recipient deleted or reported: the sender must not see the difference.
	RequestMessages int
	// HasText is false for a message that only shares a video.
	HasText bool
	// SenderAge and RecipientAge are the users' age bands today.
	SenderAge    AgeBand
	RecipientAge AgeBand
}

// Decide applies the rules in order and returns where the message lands, or
// the refusal as an *Error with a code and a reason.
func Decide(in PolicyInput) (Delivery, error) {
	if in.SenderID == in.RecipientID {
		return "", Refusal(CodeBadUserInput, ReasonSelf, "you cannot message yourself")
	}
	if in.SenderAge == Teen13 {
		return "", Refusal(CodeForbidden, ReasonAgeRestricted, "direct messages are off for accounts under 16")
	}
	if EffectivePolicy(in.SenderAge, in.SenderPolicy) == PolicyNoOne {
		// No one could answer: a reply to NO_ONE is refused.
		return "", Refusal(CodeForbidden, ReasonSenderAllowsNoOne,
			"you don't accept direct messages, so you can't send them; change your privacy settings to send")
	}
	if in.Blocked {
		// The same words both ways: never reveal who blocked whom.
		return "", Refusal(CodeForbidden, ReasonBlocked, "you can't message this account")
	}
	// A recipient aged 13–15 is refused as NO_ONE is, in the same words: to
	// others, a minor's age is indistinguishable from the setting it forces.
	in.RecipientPolicy = EffectivePolicy(in.RecipientAge, in.RecipientPolicy)
	if in.RecipientPolicy == PolicyNoOne {
		return "", Refusal(CodeForbidden, ReasonRecipientAllowsNoOne, "this account doesn't accept direct messages")
	}
	if in.RecipientAccepted {
		return DeliveryInbox, nil
	}
	if err := mayOpenContact(in); err != nil {
		return "", err
	}
	if in.RecipientFollowsSender {
		return DeliveryInbox, nil
	}
	if in.RequestMessages >= MaxRequestMessages {
		// Not RATE_LIMITED: waiting lifts nothing, the recipient's
		// acceptance does.
		return "", Refusal(CodeForbidden, ReasonRequestLimit,
			"you can send up to 3 messages until the recipient accepts your request")
	}
	if in.RequestMessages == 0 && !in.HasText {
		return "", Refusal(CodeBadUserInput, ReasonTextRequired, "a message request must start with text")
	}
	return DeliveryRequest, nil
}

// mayOpenContact applies the recipient's setting to a sender the recipient
// has not invited.
func mayOpenContact(in PolicyInput) error {
	friends := in.RecipientFollowsSender && in.SenderFollowsRecipient
	switch in.RecipientPolicy {
	case PolicyFriends:
		if !friends {
			return Refusal(CodeForbidden, ReasonFriendsOnly, "this account only accepts messages from friends")
		}
	case PolicySuggestedFriends:
		if !friends && !in.SuggestedToRecipient {
			return Refusal(CodeForbidden, ReasonFriendsAndSuggestedOnly,
				"this account only accepts messages from friends and suggested friends")
		}
	}
	return nil
}
