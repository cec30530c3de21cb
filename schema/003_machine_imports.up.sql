-- Excel import of machines (2.1.2.3): an uploaded file, previewed row by row,
-- then run by the MachineImport workflow.
CREATE TABLE machine_imports (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_name         text NOT NULL,
    file_size         bigint NOT NULL DEFAULT 0,
    object_key        text NOT NULL,              -- in the "imports" bucket
    sheet             text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'previewed' CHECK (status IN ('previewed', 'running', 'done', 'failed')),
    -- preview
    total             int NOT NULL DEFAULT 0,
    valid             int NOT NULL DEFAULT 0,
    invalid           int NOT NULL DEFAULT 0,
    duplicates        int NOT NULL DEFAULT 0,
    -- run
    processed         int NOT NULL DEFAULT 0,
    created           int NOT NULL DEFAULT 0,
    skipped           int NOT NULL DEFAULT 0,
    error             text NOT NULL DEFAULT '',
    created_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_name   text NOT NULL DEFAULT '',
    confirmed_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    confirmed_by_name text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    confirmed_at      timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX machine_imports_created_idx ON machine_imports (created_at DESC);

CREATE TABLE machine_import_rows (
    import_id    uuid NOT NULL REFERENCES machine_imports (id) ON DELETE CASCADE,
    row_no       int NOT NULL,                    -- the Excel row number
    name         text NOT NULL DEFAULT '',
    fields       jsonb NOT NULL DEFAULT '{}',     -- what the preview shows, field -> text; passwords masked
    generated    text[] NOT NULL DEFAULT '{}',    -- fields filled in because the cell was empty
    status       text NOT NULL CHECK (status IN ('valid', 'invalid', 'duplicate')),
    errors       jsonb NOT NULL DEFAULT '[]',     -- [{field, message, cell}]
    spec         jsonb,                           -- the normalized machine of a valid row, without its password
    password_enc bytea,                           -- its SSH password sealed by internal/secrets; cleared once processed
    result       text CHECK (result IN ('created', 'skipped', 'invalid')),  -- NULL until processed
    reason       text NOT NULL DEFAULT '',
    machine_id   uuid REFERENCES machines (id) ON DELETE SET NULL,
    PRIMARY KEY (import_id, row_no),
    CHECK (status <> 'valid' OR result IS NOT NULL OR (spec IS NOT NULL AND password_enc IS NOT NULL))
);
CREATE INDEX machine_import_rows_pending_idx ON machine_import_rows (import_id, row_no) WHERE result IS NULL;
