package store

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"dmgraph/models"
	"dmgraph/testdb"
)

// usersV1 is the users table as the first release created it, before
// phone numbers (migration 202611250002) existed.
type usersV1 struct {
	ID             int64     `gorm:"primaryKey"`
	Username       string    `gorm:"size:24;not null;uniqueIndex"`
	DisplayName    string    `gorm:"size:50;not null"`
	PasswordHash   string    `gorm:"size:100;not null"`
	BirthDate      time.Time `gorm:"type:date;not null"`
	DMPolicy       string    `gorm:"column:dm_policy;size:24;not null"`
	FollowerCount  int       `gorm:"not null;default:0"`
	FollowingCount int       `gorm:"not null;default:0"`
	CreatedAt      time.Time `gorm:"not null"`
}

func (usersV1) TableName() string { return "users" }

// messagesV1 is the messages table before 202611260004: full indexes on
// video_id and (sender_id, client_message_id).
type messagesV1 struct {
	ID              int64   `gorm:"primaryKey"`
	ConversationID  int64   `gorm:"not null"`
	SenderID        int64   `gorm:"not null;uniqueIndex:idx_messages_client_id,priority:1"`
	Text            *string `gorm:"size:4000"`
	VideoID         *int64  `gorm:"index:idx_messages_video_id"`
	ClientMessageID *string `gorm:"size:64;uniqueIndex:idx_messages_client_id,priority:2"`
	Delivery        string  `gorm:"size:16;not null"`
	CreatedAt       time.Time
}

func (messagesV1) TableName() string { return "messages" }

// A database made by the first release is upgraded in place, its data kept.
func TestMigrateUpgradesAnEarlierDatabase(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	old, err := Open(ctx, Config{URL: url, SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	err = old.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&usersV1{}, &messagesV1{}); err != nil {
			return err
		}
		cid := "k1"
		if err := tx.Create(&messagesV1{ConversationID: 1, SenderID: 1, ClientMessageID: &cid, Delivery: "INBOX"}).Error; err != nil {
			return err
		}
		if err := tx.Exec(`CREATE TABLE schema_migrations (id VARCHAR(255) PRIMARY KEY)`).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO schema_migrations (id) VALUES ('202611250001_initial')`).Error; err != nil {
			return err
		}
		return tx.Create(&usersV1{Username: "early", DisplayName: "Early", PasswordHash: "x",
			BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), DMPolicy: "EVERYONE", CreatedAt: old.now()}).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	if old.db.Migrator().HasColumn(&models.User{}, "PhoneHash") {
		t.Fatal("the v1 database already has phone_hash")
	}
	_ = old.Close()

	st, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer st.Close()
	m := st.db.Migrator()
	if !m.HasColumn(&models.User{}, "PhoneHash") || !m.HasTable(&models.SyncedContact{}) || !m.HasTable(&models.FacebookAccount{}) {
		t.Fatal("migration 202611250002 did not run")
	}
	u, err := st.UserByUsername(ctx, "early")
	if err != nil || u.DisplayName != "Early" {
		t.Fatalf("the early user: %+v %v", u, err)
	}
	var cid string
	if err := st.db.Raw(`SELECT client_message_id FROM messages`).Scan(&cid).Error; err != nil || cid != "k1" {
		t.Fatalf("the early message: %q %v", cid, err)
	}
	dup := st.db.Exec(`INSERT INTO messages (conversation_id, sender_id, client_message_id, delivery, created_at)
		VALUES (1, 1, 'k1', 'INBOX', ?)`, st.now()).Error
	if dup == nil {
		t.Fatal("migration 202611260004 dropped the uniqueness of clientMessageId")
	}
	var ids []string
	st.db.Table("schema_migrations").Order("id").Pluck("id", &ids)
	if len(ids) != len(migrations) {
		t.Fatalf("recorded migrations %v", ids)
	}
	// Opening again is a no-op.
	again, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
}
