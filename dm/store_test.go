package dm_test

import (
	"dmgraph/dm"
	"dmgraph/store"
)

// store.Store implements every aggregate's interface. The checks live here
// because store must not import dm: dependencies point inward.
var (
	_ dm.Users         = (*store.Store)(nil)
	_ dm.Follows       = (*store.Store)(nil)
	_ dm.Videos        = (*store.Store)(nil)
	_ dm.Conversations = (*store.Store)(nil)
	_ dm.Requests      = (*store.Store)(nil)
	_ dm.Suggestions   = (*store.Store)(nil)
	_ dm.Sessions      = (*store.Store)(nil)
	_ dm.Changes       = (*store.Store)(nil)
	_ dm.Groups        = (*store.Store)(nil)
	_ dm.Store         = (*store.Store)(nil)
)
