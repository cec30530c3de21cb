-- System notices keep their text as a code and its figures (params), which
-- the console translates (web/src/locales/codes/notices.ts) and the mails
-- render from activities' per-language texts; title and content keep a plain
-- English text for old clients. Existing rows keep their text (no code).
ALTER TABLE notification_batches ADD COLUMN code text, ADD COLUMN params jsonb;
ALTER TABLE notifications ADD COLUMN code text, ADD COLUMN params jsonb;
