package resolvers

// NestedSpreads is the validation attack of n levels (spreadsTwice).
func NestedSpreads(n int) string { return spreadsTwice(n) }
