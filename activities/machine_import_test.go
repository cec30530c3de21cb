package activities_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

// seedImport saves a previewed import of n rows (Excel rows 2..n+1): every
// 10th invalid, every 25th a duplicate, the rest valid with sealed passwords.
func seedImport(t *testing.T, st *store.Store, n int) *store.MachineImport {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	imp := &store.MachineImport{ID: uuid.NewString(), FileName: "m.xlsx", ObjectKey: "x.xlsx", Sheet: "机器", Total: n}
	rows := make([]store.MachineImportRow, n)
	for i := range rows {
		r := store.MachineImportRow{Row: i + 2, Name: fmt.Sprintf("m-%04d", i), Values: map[string]string{"name": fmt.Sprintf("m-%04d", i)}}
		switch {
		case i%10 == 9:
			r.Status, r.Errors = "invalid", []store.ImportCellError{{Field: "gpuCount", Message: "GPU 数量必填", Cell: fmt.Sprintf("F%d", i+2)}}
			imp.Invalid++
		case i%25 == 24:
			r.Status, r.Errors = "duplicate", []store.ImportCellError{{Field: "name", Message: "同名机器已存在，将跳过"}}
			imp.Duplicates++
		default:
			spec := fleet.Spec{Name: r.Name, Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8}
			if errs := spec.Normalize(fleet.Config{Catalog: fleet.DefaultCatalog}, true); len(errs) > 0 {
				t.Fatal(errs)
			}
			if r.PasswordEnc, err = box.Seal(spec.SSHPassword); err != nil {
				t.Fatal(err)
			}
			r.Status, r.Spec = "valid", &spec
			imp.Valid++
		}
		rows[i] = r
	}
	if err := st.CreateMachineImport(context.Background(), imp, rows); err != nil {
		t.Fatal(err)
	}
	return imp
}

func TestImportMachineBatchIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.New(t)
	imp := seedImport(t, st, 250)
	a := &activities.MachineImports{Store: st}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	// a machine an earlier attempt made for row 2 (as if its results were lost), and a name taken meanwhile (row 5)
	pre := &store.Machine{Name: "m-0000", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "h", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := st.CreateMachine(ctx, pre, activities.ImportKey(imp.ID, 2)); err != nil {
		t.Fatal(err)
	}
	taken := &store.Machine{Name: "M-0003", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "h", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: []byte{1}}
	if err := st.CreateMachine(ctx, taken, ""); err != nil {
		t.Fatal(err)
	}

	v, err := env.ExecuteActivity(a.BeginMachineImport, activities.BeginImportInput{ImportID: imp.ID})
	if err != nil {
		t.Fatal(err)
	}
	var begun activities.BeginImportResult
	_ = v.Get(&begun)
	if begun.Status != "running" || begun.Pending != 250 {
		t.Fatalf("begin %+v", begun)
	}

	// two workers race on the same import: the row lock makes them take turns
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last activities.ImportBatchResult
	errs := make(chan error, 8)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			for {
				v, err := env.ExecuteActivity(a.ImportMachineBatch, activities.ImportBatchInput{ImportID: imp.ID, Size: 40})
				if err != nil {
					errs <- err
					return
				}
				var res activities.ImportBatchResult
				_ = v.Get(&res)
				mu.Lock()
				if res.Import.Processed > last.Import.Processed {
					last = res
				}
				mu.Unlock()
				if res.Remaining == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// 25 invalid, 5 duplicates (those not also invalid), 220 valid of which one is skipped as taken meanwhile
	want := activities.ImportCounts{Processed: 250, Created: 219, Skipped: 6, Invalid: 25}
	if last.Import != want || last.Remaining != 0 {
		t.Fatalf("counts %+v remaining %d, want %+v", last.Import, last.Remaining, want)
	}
	var machines, withKey int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*), count(import_key) FROM machines`).Scan(&machines, &withKey)
	if machines != 220 || withKey != 219 {
		t.Fatalf("machines %d (with key %d), want 220 (219)", machines, withKey)
	}
	rows, err := st.MachineImportRows(ctx, imp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[0]; r.Result != "created" || r.MachineID == nil || *r.MachineID != pre.ID {
		t.Fatalf("row 2 (made by an earlier attempt) %+v", r)
	}
	if r := rows[3]; r.Result != "skipped" || r.Reason != activities.ReasonDuplicate {
		t.Fatalf("row 5 (name taken meanwhile) %+v", r)
	}
	if r := rows[9]; r.Result != "invalid" || r.Reason != "F11 gpuCount: GPU 数量必填" {
		t.Fatalf("row 11 %+v", r)
	}
	var sealedLeft int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM machine_import_rows WHERE password_enc IS NOT NULL`).Scan(&sealedLeft)
	if sealedLeft != 0 {
		t.Fatalf("%d sealed passwords left on processed rows", sealedLeft)
	}

	// a re-run after the end changes nothing
	if _, err := env.ExecuteActivity(a.FinishMachineImport, activities.FinishImportInput{ImportID: imp.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(a.FinishMachineImport, activities.FinishImportInput{ImportID: imp.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(a.ImportMachineBatch, activities.ImportBatchInput{ImportID: imp.ID, Size: 40}); err == nil {
		t.Fatal("a batch ran on a finished import")
	}
	got, _ := st.GetMachineImport(ctx, imp.ID)
	if got.Status != "done" || got.Created != 219 || got.Skipped != 6 || got.Processed != 250 || got.FinishedAt == nil {
		t.Fatalf("import %+v", got)
	}
	var audits int
	_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE action = 'machine.import' AND target_id = $1`, imp.ID).Scan(&audits)
	if audits != 1 {
		t.Fatalf("%d completion audits", audits)
	}
	if _, err := env.ExecuteActivity(a.BeginMachineImport, activities.BeginImportInput{ImportID: uuid.NewString()}); err == nil {
		t.Fatal("begin of an unknown import succeeded")
	}
}
