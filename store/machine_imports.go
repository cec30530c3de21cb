package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/fleet"
)

// MachineImport is one uploaded Excel file of machines: previewed, then run
// by the MachineImport workflow.
type MachineImport struct {
	ID              string     `json:"id" format:"uuid"`
	FileName        string     `json:"fileName"`
	FileSize        int64      `json:"fileSize" doc:"Bytes"`
	Sheet           string     `json:"sheet" doc:"The sheet that was read"`
	Status          string     `json:"status" enum:"previewed,running,done,failed"`
	Total           int        `json:"total" doc:"Data rows in the file"`
	Valid           int        `json:"valid" doc:"Rows that will be created"`
	Invalid         int        `json:"invalid" doc:"Rows with errors; never created"`
	Duplicates      int        `json:"duplicates" doc:"Rows whose name exists or repeats an earlier row; skipped"`
	Processed       int        `json:"processed" doc:"Rows with a result so far"`
	Created         int        `json:"created"`
	Skipped         int        `json:"skipped"`
	Error           string     `json:"error" doc:"Why the import failed"`
	CreatedByName   string     `json:"createdByName"`
	ConfirmedByName string     `json:"confirmedByName"`
	CreatedAt       time.Time  `json:"createdAt"`
	ConfirmedAt     *time.Time `json:"confirmedAt"`
	FinishedAt      *time.Time `json:"finishedAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`

	ObjectKey   string  `json:"-"`
	CreatedBy   *string `json:"-"`
	ConfirmedBy *string `json:"-"`
}

// ImportCellError is what is wrong with one cell of a row.
type ImportCellError struct {
	Field   string         `json:"field" doc:"Field name, e.g. gpuCount"`
	Code    string         `json:"code,omitempty" doc:"Stable code of the message (machines.field.<x>, machines.import.<x>), which the console translates; absent in imports made before codes"`
	Params  map[string]any `json:"params,omitempty" doc:"The figures the message names"`
	Message string         `json:"message" doc:"English (bilingual in imports made before codes)"`
	Cell    string         `json:"cell,omitempty" doc:"Excel cell, e.g. F7"`
}

// MachineImportRow is one data row: its preview and, once processed, its result.
type MachineImportRow struct {
	Row       int               `json:"row" doc:"Excel row number"`
	Name      string            `json:"name"`
	Values    map[string]string `json:"values" doc:"Field → value as it will be created (with generated values) or, for invalid rows, as typed; passwords masked"`
	Generated []string          `json:"generated" doc:"Fields generated because the cell was empty"`
	Status    string            `json:"status" enum:"valid,invalid,duplicate" doc:"The preview's verdict"`
	Errors    []ImportCellError `json:"errors"`
	Result    string            `json:"result" enum:"pending,created,skipped,invalid" doc:"pending until the import processes the row"`
	Reason    string            `json:"reason" doc:"Why the row was skipped or is invalid"`
	MachineID *string           `json:"machineId,omitempty" format:"uuid"`

	// Spec is the normalized machine of a valid row (its password empty);
	// PasswordEnc its sealed SSH password. Neither leaves the server.
	Spec        *fleet.Spec `json:"-"`
	PasswordEnc []byte      `json:"-"`
}

const machineImportCols = `id, file_name, file_size, object_key, sheet, status, total, valid, invalid, duplicates, processed, created, skipped,
	error, created_by, created_by_name, confirmed_by, confirmed_by_name, created_at, confirmed_at, finished_at, updated_at`

func scanMachineImport(row pgx.Row) (*MachineImport, error) {
	var m MachineImport
	err := row.Scan(&m.ID, &m.FileName, &m.FileSize, &m.ObjectKey, &m.Sheet, &m.Status, &m.Total, &m.Valid, &m.Invalid, &m.Duplicates,
		&m.Processed, &m.Created, &m.Skipped, &m.Error, &m.CreatedBy, &m.CreatedByName, &m.ConfirmedBy, &m.ConfirmedByName,
		&m.CreatedAt, &m.ConfirmedAt, &m.FinishedAt, &m.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// CreateMachineImport saves a previewed import (m.ID chosen by the caller) and its rows, copied in one go.
func (q *Queries) CreateMachineImport(ctx context.Context, m *MachineImport, rows []MachineImportRow) error {
	return q.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO machine_imports (id, file_name, file_size, object_key, sheet, total, valid, invalid, duplicates,
			created_by, created_by_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING status, created_at, updated_at`,
			m.ID, m.FileName, m.FileSize, m.ObjectKey, m.Sheet, m.Total, m.Valid, m.Invalid, m.Duplicates, m.CreatedBy, m.CreatedByName,
		).Scan(&m.Status, &m.CreatedAt, &m.UpdatedAt)
		if err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"machine_import_rows"},
			[]string{"import_id", "row_no", "name", "fields", "generated", "status", "errors", "spec", "password_enc"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				var spec []byte
				if r.Spec != nil {
					sp := *r.Spec
					sp.SSHPassword = ""
					var err error
					if spec, err = json.Marshal(sp); err != nil {
						return nil, err
					}
				}
				errs := r.Errors
				if errs == nil {
					errs = []ImportCellError{}
				}
				gen := r.Generated
				if gen == nil {
					gen = []string{}
				}
				return []any{m.ID, r.Row, r.Name, r.Values, gen, r.Status, errs, spec, r.PasswordEnc}, nil
			}))
		if err != nil {
			return fmt.Errorf("unable to copy import rows: %w", err)
		}
		return nil
	})
}

func (q *Queries) GetMachineImport(ctx context.Context, id string) (*MachineImport, error) {
	return scanMachineImport(q.db.QueryRow(ctx, `SELECT `+machineImportCols+` FROM machine_imports WHERE id = $1`, id))
}

// LockMachineImport reads an import and locks it until the transaction ends;
// confirmations and batches of the same import take turns on it.
func (q *Queries) LockMachineImport(ctx context.Context, id string) (*MachineImport, error) {
	return scanMachineImport(q.db.QueryRow(ctx, `SELECT `+machineImportCols+` FROM machine_imports WHERE id = $1 FOR UPDATE`, id))
}

type MachineImportFilter struct {
	Status  string
	Keyword string
}

var machineImportSorts = map[string]string{"createdAt": "created_at", "fileName": "file_name", "status": "status", "total": "total",
	"created": "created", "finishedAt": "finished_at"}

func (q *Queries) ListMachineImports(ctx context.Context, f MachineImportFilter, p Page) ([]MachineImport, int, error) {
	w := &where{}
	if f.Status != "" {
		w.add("status = %s", f.Status)
	}
	if f.Keyword != "" {
		w.add("(file_name ILIKE %s OR created_by_name ILIKE %[1]s)", likePattern(f.Keyword))
	}
	var total int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM machine_imports`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := q.db.Query(ctx, `SELECT `+machineImportCols+` FROM machine_imports`+w.sql()+
		p.orderBy(machineImportSorts, "created_at DESC, id")+p.limitOffset(), w.args...)
	list, err := collect(rows, err, scanMachineImport)
	return list, total, err
}

const importRowCols = `row_no, name, fields, generated, status, errors, coalesce(result, 'pending'), reason, machine_id`

func scanImportRow(row pgx.Row, extra ...any) (*MachineImportRow, error) {
	var r MachineImportRow
	dest := append([]any{&r.Row, &r.Name, &r.Values, &r.Generated, &r.Status, &r.Errors, &r.Result, &r.Reason, &r.MachineID}, extra...)
	err := row.Scan(dest...)
	return &r, err
}

// MachineImportRows are the rows of an import in file order.
func (q *Queries) MachineImportRows(ctx context.Context, id string) ([]MachineImportRow, error) {
	rows, err := q.db.Query(ctx, `SELECT `+importRowCols+` FROM machine_import_rows WHERE import_id = $1 ORDER BY row_no`, id)
	return collect(rows, err, func(r pgx.Row) (*MachineImportRow, error) { return scanImportRow(r) })
}

// ConfirmMachineImport marks a previewed import running on behalf of the admin who confirmed it.
func (q *Queries) ConfirmMachineImport(ctx context.Context, id, userID, userName string) error {
	_, err := q.db.Exec(ctx, `UPDATE machine_imports SET status = 'running', confirmed_by = $2, confirmed_by_name = $3,
		confirmed_at = now(), updated_at = now() WHERE id = $1 AND status = 'previewed'`, id, userID, userName)
	return err
}

// BeginMachineImport marks the import running if nothing did yet and says how many rows are left.
func (q *Queries) BeginMachineImport(ctx context.Context, id string) (status string, pending int, err error) {
	err = q.db.QueryRow(ctx, `WITH u AS (UPDATE machine_imports SET status = 'running', confirmed_at = coalesce(confirmed_at, now()), updated_at = now()
			WHERE id = $1 AND status = 'previewed' RETURNING status)
		SELECT coalesce((SELECT status FROM u), i.status), (SELECT count(*) FROM machine_import_rows WHERE import_id = $1 AND result IS NULL)
		FROM machine_imports i WHERE i.id = $1`, id).Scan(&status, &pending)
	return status, pending, notFound(err)
}

// PendingImportRows are the next rows without a result, with what creating them needs.
func (q *Queries) PendingImportRows(ctx context.Context, id string, limit int) ([]MachineImportRow, error) {
	rows, err := q.db.Query(ctx, `SELECT `+importRowCols+`, spec, password_enc FROM machine_import_rows
		WHERE import_id = $1 AND result IS NULL ORDER BY row_no LIMIT $2`, id, limit)
	return collect(rows, err, func(row pgx.Row) (*MachineImportRow, error) {
		var spec []byte
		var enc []byte
		r, err := scanImportRow(row, &spec, &enc)
		if err != nil {
			return nil, err
		}
		if spec != nil {
			r.Spec = &fleet.Spec{}
			if err := json.Unmarshal(spec, r.Spec); err != nil {
				return nil, fmt.Errorf("unable to read the spec of row %d: %w", r.Row, err)
			}
		}
		r.PasswordEnc = enc
		return r, nil
	})
}

// ImportRowResult is the outcome of one row.
type ImportRowResult struct {
	Row       int
	Result    string // created, skipped, invalid
	Reason    string
	MachineID string
}

// SetImportRowResults records outcomes (dropping the sealed passwords, which
// the machines now hold) and refreshes the import's counters.
func (q *Queries) SetImportRowResults(ctx context.Context, id string, results []ImportRowResult) error {
	if len(results) == 0 {
		return nil
	}
	rowNos := make([]int32, len(results))
	res, reasons, machines := make([]string, len(results)), make([]string, len(results)), make([]string, len(results))
	for i, r := range results {
		rowNos[i], res[i], reasons[i], machines[i] = int32(r.Row), r.Result, r.Reason, r.MachineID
	}
	_, err := q.db.Exec(ctx, `UPDATE machine_import_rows r SET result = u.result, reason = u.reason,
			machine_id = nullif(u.machine_id, '')::uuid, password_enc = NULL
		FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS u(row_no, result, reason, machine_id)
		WHERE r.import_id = $1 AND r.row_no = u.row_no`, id, rowNos, res, reasons, machines)
	if err != nil {
		return err
	}
	return q.RefreshMachineImportCounters(ctx, id)
}

// RefreshMachineImportCounters recomputes processed, created and skipped from the rows.
func (q *Queries) RefreshMachineImportCounters(ctx context.Context, id string) error {
	_, err := q.db.Exec(ctx, `UPDATE machine_imports i SET processed = c.processed, created = c.created, skipped = c.skipped, updated_at = now()
		FROM (SELECT count(*) FILTER (WHERE result IS NOT NULL) AS processed, count(*) FILTER (WHERE result = 'created') AS created,
			count(*) FILTER (WHERE result = 'skipped') AS skipped FROM machine_import_rows WHERE import_id = $1) c
		WHERE i.id = $1`, id)
	return err
}

// FinishMachineImport ends a running import as done or failed; false when it was not running (already finished).
func (q *Queries) FinishMachineImport(ctx context.Context, id, status, errText string) (bool, error) {
	if err := q.RefreshMachineImportCounters(ctx, id); err != nil {
		return false, err
	}
	tag, err := q.db.Exec(ctx, `UPDATE machine_imports SET status = $2, error = $3, finished_at = now(), updated_at = now()
		WHERE id = $1 AND status IN ('previewed', 'running')`, id, status, errText)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// MachinesByImportKeys maps the import keys that already made a machine to its ID.
func (q *Queries) MachinesByImportKeys(ctx context.Context, keys []string) (map[string]string, error) {
	rows, err := q.db.Query(ctx, `SELECT import_key, id FROM machines WHERE import_key = ANY($1)`, keys)
	type made struct{ Key, ID string }
	list, err := collect(rows, err, func(r pgx.Row) (*made, error) {
		var m made
		return &m, r.Scan(&m.Key, &m.ID)
	})
	out := make(map[string]string, len(list))
	for _, m := range list {
		out[m.Key] = m.ID
	}
	return out, err
}
