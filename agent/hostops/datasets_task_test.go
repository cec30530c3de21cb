package hostops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// A task's container sees a mounted dataset at /rgpu/datasets/<name>,
// read-only; a bind that is not a mount's copy is refused.
func TestTaskBindsAMountedDataset(t *testing.T) {
	t.Parallel()
	o, _ := taskOps(t)
	dir := filepath.Join(t.TempDir(), "data", "mnist")
	src := &fakeDatasets{files: map[string][]byte{"train/a.txt": []byte("alpha"), "labels.csv": []byte("1,cat\n")}}
	if _, err := o.DatasetMount(taskCtx(t), mountArgs("m1", "tenant-test", dir), src, nil); err != nil {
		t.Fatal(err)
	}
	task := newTaskID()
	startTask(t, o, agentproto.TaskStartArgs{TaskID: task,
		Command: "cat /rgpu/datasets/mnist/train/a.txt > $RGPU_OUTPUT_DIR/read; " +
			"if touch /rgpu/datasets/mnist/new 2>/dev/null; then echo writable; else echo read-only; fi > $RGPU_OUTPUT_DIR/write",
		Datasets: []agentproto.TaskDataset{{HostPath: dir, ContainerPath: "/rgpu/datasets/mnist"}}})
	if res := wait(t, o, task, 1); res.ExitCode != 0 {
		t.Fatalf("wait %+v", res)
	}
	for name, want := range map[string]string{"read": "alpha", "write": "read-only\n"} {
		if b, err := os.ReadFile(filepath.Join(o.StateDir, "tasks", task, "output", name)); string(b) != want {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "new")); err == nil {
		t.Fatal("the container wrote into the dataset")
	}

	for _, bad := range []agentproto.TaskDataset{
		{HostPath: dir, ContainerPath: "/etc/mnist"},
		{HostPath: dir, ContainerPath: "/rgpu/datasets/../../etc"},
		{HostPath: t.TempDir(), ContainerPath: "/rgpu/datasets/x"}, // no marker: not a mount's copy
		{HostPath: "/etc", ContainerPath: "/rgpu/datasets/x"},
	} {
		_, err := o.TaskStart(taskCtx(t), agentproto.TaskStartArgs{TaskID: newTaskID(), Attempt: 1, Image: "img", Command: "true",
			Datasets: []agentproto.TaskDataset{bad}})
		if typ := errType(err); typ != "InvalidArgs" && typ != "DatasetMissing" {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
