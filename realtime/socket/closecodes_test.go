package socket

import "testing"

// stockClientGivesUp is the npm graphql-ws 6 client's rule for a close
// (shouldRetryConnectOrThrow and isFatalInternalCloseCode in
// dist/client.js): true when it fails every subscription instead of
// reconnecting. e2e/graphql-ws/closecodes.mjs checks the real client
// against the same table.
func stockClientGivesUp(code int) bool {
	switch code {
	case 1000, 1001, 1005, 1006, 1012, 1013, 1014:
		return false
	case 4004, 4005, 4400, 4401, 4406, 4409, 4429, 4500:
		return true
	}
	return code >= 1000 && code <= 1999
}

// The close-code table the README documents: each meaning has its own
// code, and the stock client reconnects by itself after every close that
// the client should resume from.
func TestCloseCodes(t *testing.T) {
	for _, c := range []struct {
		meaning string
		code    int
		want    int
		retried bool
	}{
		{"server shutting down", CloseGoingAway, 1001, true},
		{"database unavailable", CloseTryAgainLater, 1013, true},
		{"signed out or token expired", CloseUnauthorized, 4401, false},
		{"no valid token in connection_init", CloseForbidden, 4403, true},
		{"connection_init too late", CloseInitTimeout, 4408, true},
		{"operation ID already running", CloseSubscriberExists, 4409, false},
		{"slow consumer", CloseSlowConsumer, 4800, true},
		{"events may have been lost", CloseResync, 4801, true},
		{"internal error", CloseInternal, 4802, true},
		{"too many sockets for the user", CloseTooManySockets, 4803, true},
	} {
		if c.code != c.want {
			t.Errorf("%s: close code %d, the README says %d", c.meaning, c.code, c.want)
		}
		if retried := !stockClientGivesUp(c.code); retried != c.retried {
			t.Errorf("%s (%d): the stock client retries: %v, want %v", c.meaning, c.code, retried, c.retried)
		}
	}
}

// resumeClose never gives a code the stock client would not retry: the
// client is to reconnect and resume.
func TestResumeCloseIsRetried(t *testing.T) {
	for _, unavailable := range []bool{true, false} {
		if code, _ := resumeClose(unavailable); stockClientGivesUp(code) {
			t.Errorf("resumeClose(%v) = %d, which the stock client does not retry", unavailable, code)
		}
	}
}
