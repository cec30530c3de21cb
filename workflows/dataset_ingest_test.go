package workflows

import (
	"context"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/extract"
)

// ingestFake records the steps the workflow runs.
type ingestFake struct {
	steps    []string
	machine  activities.DatasetMachineImportInput
	extracts []activities.DatasetExtractInput
	failed   *activities.DatasetFailInput
	refuse   error // returned by DatasetExtract
}

func (f *ingestFake) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(func(ctx context.Context, id string) (activities.DatasetPrepared, error) {
		f.steps = append(f.steps, "verify")
		return activities.DatasetPrepared{TenantID: "tenant-1", Archives: []activities.DatasetArchive{{ObjectKey: "uploads/d/u", Name: "a/b.zip", Dir: "a"}}}, nil
	}, activity.RegisterOptions{Name: "DatasetVerify"})
	env.RegisterActivityWithOptions(func(ctx context.Context, in activities.DatasetMachineImportInput) (activities.DatasetMachineImportResult, error) {
		f.steps, f.machine = append(f.steps, "machine"), in
		return activities.DatasetMachineImportResult{ObjectKey: "imports/d/m", Size: 10}, nil
	}, activity.RegisterOptions{Name: DatasetImportFromMachineActivity})
	env.RegisterActivityWithOptions(func(ctx context.Context, in activities.DatasetExtractInput) (extract.Stats, error) {
		f.steps, f.extracts = append(f.steps, "extract"), append(f.extracts, in)
		return extract.Stats{}, f.refuse
	}, activity.RegisterOptions{Name: "DatasetExtract"})
	env.RegisterActivityWithOptions(func(ctx context.Context, id string) error {
		f.steps = append(f.steps, "finalize")
		return nil
	}, activity.RegisterOptions{Name: "DatasetFinalize"})
	env.RegisterActivityWithOptions(func(ctx context.Context, in activities.DatasetFailInput) error {
		f.steps, f.failed = append(f.steps, "fail"), &in
		return nil
	}, activity.RegisterOptions{Name: "DatasetFail"})
	return env
}

func TestDatasetIngestFromMachine(t *testing.T) {
	f := &ingestFake{}
	env := f.env(t)
	env.ExecuteWorkflow(DatasetIngest, DatasetIngestInput{DatasetID: "d", Source: IngestMachine, MachineID: "m", Path: "/data"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := f.steps; len(got) != 5 || got[0] != "verify" || got[1] != "machine" || got[4] != "finalize" {
		t.Fatalf("steps %v", got)
	}
	if f.machine != (activities.DatasetMachineImportInput{DatasetID: "d", TenantID: "tenant-1", MachineID: "m", Path: "/data"}) {
		t.Fatalf("machine import input %+v", f.machine)
	}
	if len(f.extracts) != 2 || f.extracts[1].Format != string(extract.Tar) || f.extracts[1].Archive.ObjectKey != "imports/d/m" || f.extracts[0].Format != "" {
		t.Fatalf("extracts %+v", f.extracts)
	}
}

func TestDatasetIngestRefusalFailsTheDataset(t *testing.T) {
	f := &ingestFake{refuse: temporal.NewNonRetryableApplicationError("bomb", activities.ErrTypeDatasetRefused, nil,
		activities.DatasetRefusal{Reason: extract.ReasonRatio, Params: map[string]any{"ratio": 200}})}
	env := f.env(t)
	env.ExecuteWorkflow(DatasetIngest, DatasetIngestInput{DatasetID: "d", Source: IngestUpload})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if f.failed == nil || f.failed.Reason != "uploads.reason.archiveRatio" || f.failed.Params["ratio"] != float64(200) {
		t.Fatalf("failed with %+v (steps %v)", f.failed, f.steps)
	}
	for _, s := range f.steps {
		if s == "finalize" {
			t.Fatal("a refused dataset was finalized")
		}
	}
}
