-- The messages stay in English.
ALTER TABLE alerts DROP COLUMN params, DROP COLUMN code;
