package models

import "time"

// AgeBand groups users by TikTok's direct-message age rules.
type AgeBand int

const (
	// Adult (18+) follows the core rules.
	Adult AgeBand = iota
	// Teen16 (16–17) may be messaged by friends and suggested friends only.
	Teen16
	// Teen13 (13–15) can neither send nor receive direct messages.
	Teen13
)

// ReasonAgeRestricted refuses what the age rules forbid.
const ReasonAgeRestricted = "AGE_RESTRICTED"

// AgeBandOf places a birth date on today's date: people have birthdays, so
// it is computed at every check, never stored.
func AgeBandOf(birth, today time.Time) AgeBand {
	switch age := Age(birth, today); {
	case age < 16:
		return Teen13
	case age < 18:
		return Teen16
	default:
		return Adult
	}
}

// DefaultPolicy is a new account's setting: an open inbox is opt-in, and
// closed for minors.
func DefaultPolicy(band AgeBand) DirectMessagePolicy {
	if band == Adult {
		return PolicySuggestedFriends
	}
	return PolicyNoOne
}

// CheckPolicyChoice refuses settings the age rules don't allow.
func CheckPolicyChoice(band AgeBand, p DirectMessagePolicy) error {
	switch {
	case band == Teen13:
		// The setting is fixed: even choosing NO_ONE again is refused.
		return Refusal(CodeForbidden, ReasonAgeRestricted, "direct messages are off for accounts under 16")
	case band == Teen16 && p == PolicyEveryone:
		return Refusal(CodeForbidden, ReasonAgeRestricted, "accounts under 18 can only allow friends and suggested friends")
	}
	return nil
}

// EffectivePolicy is the setting the rules apply: the stored one, narrowed
// by the age rules.
func EffectivePolicy(band AgeBand, stored DirectMessagePolicy) DirectMessagePolicy {
	switch {
	case band == Teen13:
		return PolicyNoOne
	case band == Teen16 && stored == PolicyEveryone:
		return PolicySuggestedFriends
	}
	return stored
}
