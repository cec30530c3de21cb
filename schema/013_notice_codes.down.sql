-- The stored English title and content stay.
ALTER TABLE notifications DROP COLUMN params, DROP COLUMN code;
ALTER TABLE notification_batches DROP COLUMN params, DROP COLUMN code;
