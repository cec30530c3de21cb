DROP TABLE IF EXISTS notifications, notification_batches, announcements, ssh_keys, audit_logs,
    password_resets, login_throttle, refresh_tokens, sessions, users, tenants;
