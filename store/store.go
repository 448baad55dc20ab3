// Package store holds every SQL query of dmgraph, on PostgreSQL and SQLite.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"dmgraph/models"
)

// DefaultSQLitePath is where `go run .` keeps its data when DATABASE_URL is unset.
const DefaultSQLitePath = "dmgraph.db"

// Config says which database to open.
type Config struct {
	// URL is "" or "sqlite:PATH" for SQLite, "postgres://…" for PostgreSQL.
	URL string
	Log *slog.Logger
	// OnStatement, when set, is called for every SQL statement (tests count them).
	OnStatement func(ctx context.Context, sql string)
	// SkipMigrations opens the database as it is (MIGRATE=false).
	SkipMigrations bool
	// MaxConns bounds the PostgreSQL pool (DefaultMaxConns when 0), so load
	// queues in the pool instead of exhausting the server's connections.
	MaxConns int
	// Clock stamps rows and judges ages and code expiry; nil is the real time.
	Clock models.Clock
}

// DefaultMaxConns is the PostgreSQL pool size unless configured.
const DefaultMaxConns = 20

// Store runs queries. It is safe for concurrent use.
type Store struct {
	db    *gorm.DB
	clock models.Clock
	sends sendQueue // PostgreSQL's group commit (sendqueue.go)
	// writer lets one SQLite transaction write at a time, first come first
	// served. Without it, waiting writers poll SQLite's busy handler, and
	// one can lose every poll to a writer that keeps coming back.
	writer chan struct{}
}

// Open connects and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	dialector, err := dialectorFor(cfg.URL)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logged := logger.Config{
		SlowThreshold:             200 * time.Millisecond,
		LogLevel:                  logger.Warn,
		IgnoreRecordNotFoundError: true,
		ParameterizedQueries:      true, // never log message text or hashes
	}
	var gl logger.Interface = logger.NewSlogLogger(log, logged)
	gl = &quietDuplicates{Interface: gl, log: log, slow: logged.SlowThreshold, level: logged.LogLevel}
	if cfg.OnStatement != nil {
		gl = &tracingLogger{Interface: gl, onStatement: cfg.OnStatement}
	}
	s := &Store{clock: cfg.Clock}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 gl,
		SkipDefaultTransaction: true,
		TranslateError:         true,
		NowFunc:                s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := registerUnavailable(db); err != nil {
		return nil, err
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if db.Name() == "sqlite" {
		// SQLite takes one writer at a time anyway; a small pool keeps
		// readers concurrent without piling up lock waits.
		sqlDB.SetMaxOpenConns(8)
		s.writer = make(chan struct{}, 1)
	} else {
		n := cfg.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if cfg.SkipMigrations {
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func dialectorFor(url string) (gorm.Dialector, error) {
	switch {
	case url == "" || strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			path = DefaultSQLitePath
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take
		// the write lock up front, so two writers queue instead of deadlocking.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)" +
			"&_pragma=synchronous(normal)&_pragma=foreign_keys(1)&_txlock=immediate"
		return sqlite.Open(dsn), nil
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(url), nil
	default:
		return nil, errors.New("DATABASE_URL must be sqlite:PATH, postgres://… or postgresql://…")
	}
}

// now is the store's clock: UTC, to the microsecond both engines keep.
func (s *Store) now() time.Time { return s.clock.Now() }

// Close releases the connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// SQLDB is the connection pool, for its statistics.
func (s *Store) SQLDB() (*sql.DB, error) { return s.db.DB() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// migrations are applied in order on databases created by an earlier
// version. A new database gets the current schema in one step (InitSchema)
// and every ID below is recorded as done.
var migrations = []*gormigrate.Migration{
	{
		ID:      "202611250001_initial",
		Migrate: func(tx *gorm.DB) error { return tx.AutoMigrate(models.All()...) },
	},
	{
		// Suggested friends: the user's own number, synced contacts, Facebook.
		ID: "202611250002_suggestions",
		Migrate: func(tx *gorm.DB) error {
			type users struct {
				PhoneHash *string `gorm:"size:64;uniqueIndex:idx_users_phone_hash"`
			}
			if err := tx.AutoMigrate(&users{}); err != nil {
				return err
			}
			return tx.AutoMigrate(&models.SyncedContact{}, &models.FacebookAccount{}, &models.FacebookFriend{}, &models.Secret{})
		},
	},
	{
		// Sign out everywhere: tokens carry the version they were issued at.
		ID: "202611250003_token_version",
		Migrate: func(tx *gorm.DB) error {
			type users struct {
				TokenVersion int64 `gorm:"not null;default:0"`
			}
			return tx.AutoMigrate(&users{})
		},
	},
	{
		// Most messages have neither a video nor a clientMessageId: their
		// indexes skip those rows, so a send writes two index entries fewer.
		ID: "202611260004_partial_message_indexes",
		Migrate: func(tx *gorm.DB) error {
			for _, sql := range []string{
				`DROP INDEX IF EXISTS idx_messages_client_id`,
				`CREATE UNIQUE INDEX idx_messages_client_id ON messages (sender_id, client_message_id) WHERE client_message_id IS NOT NULL`,
				`DROP INDEX IF EXISTS idx_messages_video_id`,
				`CREATE INDEX idx_messages_video_id ON messages (video_id) WHERE video_id IS NOT NULL`,
			} {
				if err := tx.Exec(sql).Error; err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		// A block ends the blocker's invitation (conversation_members.uninvited),
		// and the request limit counts a conversation's requests
		// (idx_requests_conversation).
		ID: "202612020005_invitations",
		Migrate: func(tx *gorm.DB) error {
			return tx.AutoMigrate(&models.Member{}, &models.MessageRequest{})
		},
	},
	migratePhoneVerification,
	migrateRequestsBySender,
	migrateChanges,
	migrateGroups,
}

func (s *Store) migrate(ctx context.Context) error {
	m := gormigrate.New(s.db.WithContext(ctx), &gormigrate.Options{
		TableName:                 "schema_migrations",
		IDColumnName:              "id",
		IDColumnSize:              255,
		UseTransaction:            s.db.Name() == "postgres",
		ValidateUnknownMigrations: true,
	}, migrations)
	m.InitSchema(func(tx *gorm.DB) error { return tx.AutoMigrate(models.All()...) })
	if err := m.Migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// tx runs fn in a transaction. A transaction PostgreSQL chose as a deadlock
// victim or could not serialize is run again, a few times: the lock order
// (see lockUsers) should make that rare.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return markUnavailable(ctx.Err())
		}
	}
	var err error
	// Only committed changes stay in the context's change log.
	rewind := models.ChangeLogFrom(ctx).Mark()
	defer func() {
		if err != nil {
			rewind()
		}
	}()
	for range 3 {
		rewind()
		// Begin and Commit run outside the statement callbacks: their
		// errors are marked here.
		err = s.db.WithContext(ctx).Transaction(fn)
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			// The deadline ended the transaction before its commit.
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if err = markUnavailable(err); !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// translate maps driver errors to domain errors at the store's edge.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return models.NotFound(what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: %w", what, models.ErrDuplicate)
	default:
		return fmt.Errorf("%s: %w", what, markUnavailable(err))
	}
}

// quietDuplicates logs a unique-key violation at debug level, without the
// driver's text (which names the constraint): translate answers it as
// CONFLICT, and it is the client's doing (a taken username, a repeated
// key), not the server's error.
//
// It also keeps GORM's logger from formatting statements it won't log:
// that logger builds each statement's text, values included, before it
// decides, which cost about 4 % of the server's CPU in a send profile
// (BENCHMARKS.md). Below Info, only errors and slow statements are logged.
type quietDuplicates struct {
	logger.Interface
	log   *slog.Logger
	slow  time.Duration
	level logger.LogLevel
}

func (l *quietDuplicates) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		if l.log.Enabled(ctx, slog.LevelDebug) {
			sql, _ := fc()
			l.log.DebugContext(ctx, "SQL refused a duplicate key", "sql", sql, "duration", time.Since(begin))
		}
		return
	}
	quiet := err == nil || errors.Is(err, gorm.ErrRecordNotFound)
	if l.level < logger.Info && quiet && (l.slow == 0 || time.Since(begin) <= l.slow) {
		return
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

func (l *quietDuplicates) LogMode(level logger.LogLevel) logger.Interface {
	return &quietDuplicates{Interface: l.Interface.LogMode(level), log: l.log, slow: l.slow, level: level}
}

type tracingLogger struct {
	logger.Interface
	onStatement func(ctx context.Context, sql string)
}

func (l *tracingLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	sql, _ := fc()
	l.onStatement(ctx, sql)
	l.Interface.Trace(ctx, begin, fc, err)
}

func (l *tracingLogger) LogMode(level logger.LogLevel) logger.Interface {
	return &tracingLogger{Interface: l.Interface.LogMode(level), onStatement: l.onStatement}
}

// FindText reports the first table and column holding text that contains s,
// or "". Tests use it to prove what is never stored.
func (s *Store) FindText(ctx context.Context, needle string) string {
	tables, err := s.db.Migrator().GetTables()
	if err != nil {
		return "error: " + err.Error()
	}
	for _, table := range tables {
		cols, err := s.db.Migrator().ColumnTypes(table)
		if err != nil {
			return "error: " + err.Error()
		}
		for _, c := range cols {
			var n int64
			err := s.db.WithContext(ctx).Table(table).
				Where("CAST("+s.db.Statement.Quote(c.Name())+" AS TEXT) LIKE ?", "%"+needle+"%").Count(&n).Error
			if err != nil {
				return "error: " + err.Error()
			}
			if n > 0 {
				return table + "." + c.Name()
			}
		}
	}
	return ""
}
