package store

import (
	"context"
	"time"
)

// ThrottleLockedUntil returns when the key's lock ends, or zero when it is not locked.
func (s *Store) ThrottleLockedUntil(ctx context.Context, key string) (time.Time, error) {
	var until *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > now()`, key).Scan(&until)
	if err != nil {
		if notFound(err) == ErrNotFound {
			return time.Time{}, nil
		}
		return time.Time{}, err
	}
	return *until, nil
}

// ThrottleFailure counts a failure for key inside a sliding window; at max
// failures the key is locked for lock. It returns the lock end, if any.
func (s *Store) ThrottleFailure(ctx context.Context, key string, max int, window, lock time.Duration) (time.Time, error) {
	var failures int
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, now())
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.window_start < now() - $2::interval THEN 1 ELSE t.failures + 1 END,
			window_start = CASE WHEN t.window_start < now() - $2::interval THEN now() ELSE t.window_start END
		RETURNING failures`, key, window.String()).Scan(&failures)
	if err != nil {
		return time.Time{}, err
	}
	if failures >= max {
		var t time.Time
		err := s.Pool.QueryRow(ctx, `UPDATE login_throttle SET locked_until = now() + $2::interval, failures = 0, window_start = now()
			WHERE key = $1 RETURNING locked_until`, key, lock.String()).Scan(&t)
		return t, err
	}
	return time.Time{}, nil
}

// ThrottleReset forgets the failures of key (after a successful login).
func (s *Store) ThrottleReset(ctx context.Context, key string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	return err
}
