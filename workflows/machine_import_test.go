package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
)

// fakeImport mimics the store behind the batch activity: rows without a
// result are taken in order, a batch commits machines and results together,
// and machines are keyed by <import>:<row>.
type fakeImport struct {
	mu       sync.Mutex
	status   []string // preview status per row
	result   []string
	machines map[string]int // import key → times created
	calls    int
	// per call number (1-based): commit and then lose the reply, or fail before committing
	loseReply, failBefore map[int]bool
	finished              []activities.FinishImportInput
}

func newFakeImport(valid, invalid, duplicate int) *fakeImport {
	f := &fakeImport{machines: map[string]int{}, loseReply: map[int]bool{}, failBefore: map[int]bool{}}
	n := valid + invalid + duplicate
	for i := 0; i < n; i++ {
		st := "valid"
		switch {
		case i%10 == 3 && invalid > 0:
			st, invalid = "invalid", invalid-1
		case i%10 == 7 && duplicate > 0:
			st, duplicate = "duplicate", duplicate-1
		}
		f.status = append(f.status, st)
	}
	f.result = make([]string, len(f.status))
	return f
}

func (f *fakeImport) pending() int {
	n := 0
	for _, r := range f.result {
		if r == "" {
			n++
		}
	}
	return n
}

func (f *fakeImport) counts() activities.ImportCounts {
	var c activities.ImportCounts
	for _, r := range f.result {
		switch r {
		case "created":
			c.Created++
		case "skipped":
			c.Skipped++
		case "invalid":
			c.Invalid++
		}
		if r != "" {
			c.Processed++
		}
	}
	return c
}

func (f *fakeImport) begin(_ context.Context, in activities.BeginImportInput) (activities.BeginImportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return activities.BeginImportResult{Status: "running", Pending: f.pending()}, nil
}

func (f *fakeImport) batch(_ context.Context, in activities.ImportBatchInput) (activities.ImportBatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failBefore[f.calls] {
		return activities.ImportBatchResult{}, errors.New("connection reset before commit")
	}
	var res activities.ImportBatchResult
	for i := range f.result {
		if f.result[i] != "" {
			continue
		}
		if res.Batch.Processed == in.Size {
			break
		}
		key := activities.ImportKey(in.ImportID, i+2)
		switch f.status[i] {
		case "invalid":
			f.result[i] = "invalid"
			res.Batch.Invalid++
		case "duplicate":
			f.result[i] = "skipped"
			res.Batch.Skipped++
		default:
			if f.machines[key] == 0 { // an existing key is reused
				f.machines[key]++
			}
			f.result[i] = "created"
			res.Batch.Created++
		}
		res.Batch.Processed++
	}
	res.Import, res.Remaining = f.counts(), f.pending()
	if f.loseReply[f.calls] {
		return activities.ImportBatchResult{}, errors.New("worker lost the reply after commit")
	}
	return res, nil
}

func (f *fakeImport) finish(_ context.Context, in activities.FinishImportInput) (activities.FinishImportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finished = append(f.finished, in)
	c := f.counts()
	st := "done"
	if in.Failed {
		st = "failed"
	}
	return activities.FinishImportResult{Status: st, Total: len(f.status), Processed: c.Processed, Created: c.Created, Skipped: c.Skipped, Invalid: c.Invalid}, nil
}

func runImport(t *testing.T, f *fakeImport, batchErr func(context.Context, activities.ImportBatchInput) (activities.ImportBatchResult, error)) (*testsuite.TestWorkflowEnvironment, MachineImportResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.MachineImports
	env.RegisterActivity(a)
	env.OnActivity(a.BeginMachineImport, mock.Anything, activities.BeginImportInput{ImportID: "imp1"}).Return(f.begin)
	if batchErr == nil {
		batchErr = f.batch
	}
	env.OnActivity(a.ImportMachineBatch, mock.Anything, mock.Anything).Return(batchErr)
	env.OnActivity(a.FinishMachineImport, mock.Anything, mock.Anything).Return(f.finish)
	env.ExecuteWorkflow(MachineImport, MachineImportInput{ImportID: "imp1"})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res MachineImportResult
	_ = env.GetWorkflowResult(&res)
	return env, res, env.GetWorkflowError()
}

func TestMachineImportBatches(t *testing.T) {
	f := newFakeImport(240, 6, 4) // 250 rows: 3 batches
	env, res, err := runImport(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := MachineImportResult{Status: "done", Total: 250, Processed: 250, Created: 240, Skipped: 4, Invalid: 6, Batches: 3}
	if res != want {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	if f.calls != 3 || len(f.finished) != 1 || f.finished[0].Failed {
		t.Fatalf("calls %d, finished %+v", f.calls, f.finished)
	}
	env.AssertExpectations(t)
}

func TestMachineImportRetryDoesNotDuplicate(t *testing.T) {
	f := newFakeImport(300, 0, 0)
	f.failBefore[1] = true // first attempt of batch 1 fails before committing
	f.loseReply[3] = true  // batch 2 commits but its reply is lost; the retry goes on with batch 3
	_, res, err := runImport(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, n := range f.machines {
		if n != 1 {
			t.Fatalf("machine %s created %d times", key, n)
		}
	}
	if len(f.machines) != 300 || res.Created != 300 || res.Processed != 300 || res.Status != "done" {
		t.Fatalf("machines %d, result %+v", len(f.machines), res)
	}
	// calls: batch 1 fails before commit, its retry commits rows 1–100, batch 2 commits rows 101–200 and
	// loses its reply, its retry commits rows 201–300: four calls, two replies, every row once.
	if f.calls != 4 || res.Batches != 2 {
		t.Fatalf("calls %d, batches %d", f.calls, res.Batches)
	}
}

func TestMachineImportProgressQuery(t *testing.T) {
	f := newFakeImport(200, 5, 0)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.MachineImports
	env.RegisterActivity(a)
	env.OnActivity(a.BeginMachineImport, mock.Anything, mock.Anything).Return(f.begin)
	env.OnActivity(a.FinishMachineImport, mock.Anything, mock.Anything).Return(f.finish)
	// the query answers while the import runs: look during the second batch
	var during MachineImportProgress
	env.OnActivity(a.ImportMachineBatch, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.ImportBatchInput) (activities.ImportBatchResult, error) {
		if f.calls == 1 {
			if v, err := env.QueryWorkflow(MachineImportProgressQuery); err == nil {
				_ = v.Get(&during)
			}
		}
		return f.batch(ctx, in)
	})
	env.ExecuteWorkflow(MachineImport, MachineImportInput{ImportID: "imp1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	v, err := env.QueryWorkflow(MachineImportProgressQuery)
	if err != nil {
		t.Fatal(err)
	}
	var p MachineImportProgress
	_ = v.Get(&p)
	if p.Processed != 205 || p.Created != 200 || p.Invalid != 5 || p.Pending != 0 || p.Batches != 3 {
		t.Fatalf("progress %+v", p)
	}
	if during.Processed != 100 || during.Pending != 105 || during.Batches != 1 {
		t.Fatalf("progress during batch 2: %+v", during)
	}
}

func TestMachineImportFails(t *testing.T) {
	f := newFakeImport(150, 0, 0)
	calls := 0
	_, res, err := runImport(t, f, func(ctx context.Context, in activities.ImportBatchInput) (activities.ImportBatchResult, error) {
		calls++
		if calls == 1 {
			return f.batch(ctx, in)
		}
		return activities.ImportBatchResult{}, temporal.NewNonRetryableApplicationError("row 120 has no machine to create", "BadRow", nil)
	})
	if err == nil || !strings.Contains(err.Error(), "batch 2") {
		t.Fatalf("workflow error %v", err)
	}
	if len(f.finished) != 1 || !f.finished[0].Failed || f.finished[0].Error != "row 120 has no machine to create" {
		t.Fatalf("finished %+v", f.finished)
	}
	if c := f.counts(); c.Created != 100 || res.Status != "" { // a failed workflow returns no result
		t.Fatalf("counts %+v, result %+v", c, res)
	}
	if calls != 2 {
		t.Fatalf("a non-retryable error was retried: %d calls", calls)
	}
}

func TestMachineImportNothingPending(t *testing.T) {
	f := newFakeImport(0, 0, 0)
	_, res, err := runImport(t, f, func(context.Context, activities.ImportBatchInput) (activities.ImportBatchResult, error) {
		return activities.ImportBatchResult{}, fmt.Errorf("no batch expected")
	})
	if err != nil || res.Status != "done" || res.Batches != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestMachineImportWorkflowID(t *testing.T) {
	if MachineImportWorkflowID("abc") != "machine-import:abc" {
		t.Fatal(MachineImportWorkflowID("abc"))
	}
}
