package hostops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// MaxOutputs is how many entries TaskOutputs lists at once.
const MaxOutputs = 1000

func (o *Ops) taskDir(taskID string) string {
	return filepath.Join(o.StateDir, "tasks", taskID)
}

// taskDirs makes the task's output and checkpoint directories, writable
// by any user (the image's user need not be root); they outlive attempts.
func (o *Ops) taskDirs(taskID string) (string, error) {
	if o.StateDir == "" {
		return "", Permanentf("NoStateDir", "the agent has no state directory for the task's files")
	}
	dir := o.taskDir(taskID)
	for _, sub := range []string{"output", "checkpoints"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", Retryablef("TaskDirFailed", err, "unable to create the task's directory %s", p)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			return "", Retryablef("TaskDirFailed", err, "unable to open up the task's directory %s", p)
		}
	}
	return dir, nil
}

// TaskOutputs lists one directory under the task's output directory (at
// most MaxOutputs entries, sorted by name). The container wrote those
// files: paths are resolved inside the output directory only (os.Root),
// so neither "..", an absolute path nor a symlink leads out of it;
// symlinks are listed, not followed.
func (o *Ops) TaskOutputs(_ context.Context, a agentproto.TaskOutputsArgs) (agentproto.TaskOutputsResult, error) {
	res := agentproto.TaskOutputsResult{Files: []agentproto.OutputFile{}}
	if !validTaskID.MatchString(a.TaskID) {
		return res, Permanentf("InvalidArgs", "invalid task ID %q", a.TaskID)
	}
	dir := a.Dir
	if dir == "" {
		dir = "."
	}
	if path.IsAbs(dir) || strings.Contains(dir, "\\") || slices.Contains(strings.Split(dir, "/"), "..") {
		return res, Permanentf("InvalidPath", "%q is not a path inside the output directory", a.Dir)
	}
	dir = path.Clean(dir)
	root, err := os.OpenRoot(filepath.Join(o.taskDir(a.TaskID), "output"))
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil // no attempt ran here yet
	}
	if err != nil {
		return res, Retryablef("OutputsFailed", err, "unable to open the task's output directory")
	}
	defer root.Close()
	f, err := root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return res, Permanentf("NotFound", "%q is not in the output directory", a.Dir)
	}
	if err != nil {
		// os.Root refuses a path that leads out through a symlink.
		return res, Permanentf("InvalidPath", "%q cannot be listed: %v", a.Dir, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(MaxOutputs + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, Permanentf("NotADirectory", "%q cannot be listed: %v", a.Dir, err)
	}
	if len(entries) > MaxOutputs {
		entries, res.Truncated = entries[:MaxOutputs], true
	}
	for _, e := range entries {
		info, err := e.Info() // lstat: a symlink is itself
		if err != nil {
			continue // removed meanwhile
		}
		p := e.Name()
		if dir != "." {
			p = dir + "/" + p
		}
		res.Files = append(res.Files, agentproto.OutputFile{Path: p, Size: info.Size(), ModTime: info.ModTime().UTC(), Dir: e.IsDir()})
	}
	slices.SortFunc(res.Files, func(a, b agentproto.OutputFile) int { return strings.Compare(a.Path, b.Path) })
	return res, nil
}

// TaskRemove removes every container of the task (any attempt) and the
// task's directory with its outputs and checkpoints.
func (o *Ops) TaskRemove(ctx context.Context, a agentproto.TaskRemoveArgs) (agentproto.TaskRemoveResult, error) {
	var res agentproto.TaskRemoveResult
	if !validTaskID.MatchString(a.TaskID) {
		return res, Permanentf("InvalidArgs", "invalid task ID %q", a.TaskID)
	}
	if absent, _ := o.noDocker(); !absent {
		host := o.Docker.DaemonHost()
		list, err := o.Docker.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", agentproto.LabelTask+"="+a.TaskID))})
		if err != nil {
			return res, dockerErr(host, "unable to list the task's containers", err)
		}
		for _, c := range list {
			if err := o.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return res, dockerErr(host, fmt.Sprintf("unable to remove the container %s", c.ID), err)
			}
			res.Containers++
		}
	}
	if o.StateDir != "" {
		if err := os.RemoveAll(o.taskDir(a.TaskID)); err != nil {
			return res, Retryablef("TaskDirFailed", err, "unable to remove the task's directory")
		}
	}
	o.log().Info("task removed from this host", "task", a.TaskID, "containers", res.Containers)
	return res, nil
}

// OutputUpload sends an output file's bytes (exactly size of them) to the
// api and returns what it stored.
type OutputUpload func(ctx context.Context, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error)

// TaskOutputFetch opens one file under the task's output directory, with
// the same confinement as TaskOutputs (os.Root: no "..", no absolute path,
// no symlink out of it), and hands it to upload. A directory, a file that
// is not regular or one over agentproto.MaxTaskOutputFetchBytes is refused
// for good.
func (o *Ops) TaskOutputFetch(ctx context.Context, a agentproto.TaskOutputFetchArgs, upload OutputUpload) (agentproto.TaskOutputFetchResult, error) {
	var res agentproto.TaskOutputFetchResult
	if !validTaskID.MatchString(a.TaskID) {
		return res, Permanentf("InvalidArgs", "invalid task ID %q", a.TaskID)
	}
	p := a.Path
	if p == "" || path.IsAbs(p) || strings.Contains(p, "\\") || slices.Contains(strings.Split(p, "/"), "..") {
		return res, Permanentf("InvalidPath", "%q is not a path inside the output directory", a.Path)
	}
	p = path.Clean(p)
	if p == "." {
		return res, Permanentf("IsDirectory", "%q is a directory", a.Path)
	}
	root, err := os.OpenRoot(filepath.Join(o.taskDir(a.TaskID), "output"))
	if errors.Is(err, fs.ErrNotExist) {
		return res, Permanentf("NotFound", "%q is not in the output directory", a.Path)
	}
	if err != nil {
		return res, Retryablef("OutputsFailed", err, "unable to open the task's output directory")
	}
	defer root.Close()
	f, err := root.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return res, Permanentf("NotFound", "%q is not in the output directory", a.Path)
	}
	if err != nil {
		return res, Permanentf("InvalidPath", "%q cannot be read: %v", a.Path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return res, Retryablef("OutputsFailed", err, "unable to read %q", a.Path)
	}
	switch {
	case info.IsDir():
		return res, Permanentf("IsDirectory", "%q is a directory", a.Path)
	case !info.Mode().IsRegular():
		return res, Permanentf("InvalidPath", "%q is not a regular file", a.Path)
	case info.Size() > agentproto.MaxTaskOutputFetchBytes:
		return res, Permanentf("TooLarge", "%q has %d bytes, more than the %d a download may have", a.Path, info.Size(), agentproto.MaxTaskOutputFetchBytes)
	}
	// the file may still grow: send the size it had
	return upload(ctx, io.LimitReader(f, info.Size()), info.Size())
}
