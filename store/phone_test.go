package store

import (
	"context"
	"testing"
	"time"

	"dmgraph/models"
	"dmgraph/testdb"
)

// Numbers set before verification existed were never verified: upgrading
// clears them, and adds the table of pending verifications.
func TestSec02MigrationClearsUnverifiedNumbers(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	st, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	hash := "a1b2"
	u := &models.User{Username: "early", DisplayName: "Early", PasswordHash: "x", BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
		DMPolicy: models.PolicyEveryone, PhoneHash: &hash, CreatedAt: st.now()}
	if err := st.db.Create(u).Error; err != nil {
		t.Fatal(err)
	}
	// Back to the database as it was before the migration.
	for _, sql := range []string{`DROP TABLE phone_verifications`, `DELETE FROM schema_migrations WHERE id = '` + migratePhoneVerification.ID + `'`} {
		if err := st.db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	_ = st.Close()

	st, err = Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer st.Close()
	got, err := st.UserByID(ctx, u.ID)
	if err != nil || got.PhoneHash != nil {
		t.Fatalf("after the upgrade: phone hash %v, %v; want none", got.PhoneHash, err)
	}
	if !st.db.Migrator().HasTable(&models.PhoneVerification{}) {
		t.Fatal("no phone_verifications table")
	}
}
