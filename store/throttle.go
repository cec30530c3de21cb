package store

import (
	"context"
	"time"
)

// ThrottleAttempt counts one attempt for key BEFORE it is checked, in one
// statement, so parallel attempts cannot slip past the limit: within a
// window the first max attempts are allowed, the max-th locks the key for
// lock (it is still checked; a right password forgets the count with
// ThrottleReset), and every attempt while locked is refused. It returns
// whether this attempt may be checked and when the lock ends (zero when
// the key is not locked).
func (q *Queries) ThrottleAttempt(ctx context.Context, key string, max int, window, lock time.Duration) (allowed bool, lockedUntil time.Time, err error) {
	var (
		failures int
		until    *time.Time
	)
	// fresh: the lock is over or the window has passed, so counting starts again.
	err = q.db.QueryRow(ctx, `
		INSERT INTO login_throttle AS t (key, failures, window_start, locked_until)
		VALUES ($1, 1, now(), CASE WHEN $3 <= 1 THEN now() + $4::interval END)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE
				WHEN t.locked_until > now() THEN t.failures + 1
				WHEN t.locked_until IS NOT NULL OR t.window_start < now() - $2::interval THEN 1
				ELSE t.failures + 1 END,
			window_start = CASE
				WHEN t.locked_until > now() THEN t.window_start
				WHEN t.locked_until IS NOT NULL OR t.window_start < now() - $2::interval THEN now()
				ELSE t.window_start END,
			locked_until = CASE
				WHEN t.locked_until > now() THEN t.locked_until
				WHEN t.locked_until IS NOT NULL OR t.window_start < now() - $2::interval THEN
					CASE WHEN $3 <= 1 THEN now() + $4::interval END
				WHEN t.failures + 1 >= $3 THEN now() + $4::interval
				ELSE NULL END
		RETURNING failures, locked_until`, key, window.String(), max, lock.String()).Scan(&failures, &until)
	if err != nil {
		return false, time.Time{}, err
	}
	if until != nil {
		lockedUntil = *until
	}
	return failures <= max, lockedUntil, nil
}

// ThrottleReset forgets the attempts of key (a successful login forgets its account's).
func (q *Queries) ThrottleReset(ctx context.Context, key string) error {
	_, err := q.db.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	return err
}

// ThrottleForgive takes back one attempt of key (one that turned out not
// to be a guess: a successful login from an address, or a directory
// outage), and the lock that attempt set when it was the max-th.
func (q *Queries) ThrottleForgive(ctx context.Context, key string, max int) error {
	_, err := q.db.Exec(ctx, `UPDATE login_throttle SET failures = greatest(failures - 1, 0),
		locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END WHERE key = $1`, key, max)
	return err
}
