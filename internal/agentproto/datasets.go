package agentproto

import (
	"path"
	"strings"
)

// Datasets on hosts (docs/datasets.md, "Import from a machine and mounts").
//
// A mount is a read-only local copy of a dataset under a path of a leased
// machine: KindDatasetMount has the agent read the manifest
// (PathDatasetMountManifest) and each file (PathDatasetMountFile) from the
// api, write them under the path through temporary names, write the marker
// DatasetMarkerName and make everything read-only. KindDatasetUnmount
// removes the copy, only when the marker names that mount. The agent keeps
// a list of its mounts in its state directory: stop_tenant removes every
// mount whose marker names the tenant (StopTenantResult.DatasetMounts).
//
// KindDatasetImport streams a tar of a path of the machine (regular files
// and directories, symlinks not followed) with a chunked PUT to
// PathDatasetImportUpload; the api stores it as the dataset's archive.
const (
	KindDatasetMount   = "dataset_mount"
	KindDatasetUnmount = "dataset_unmount"
	KindDatasetImport  = "dataset_import"
)

// The agent endpoints of datasets. Answered only for the caller's machine,
// while the mount's (dataset's) tenant holds its live allocation.
const (
	// PathDatasetMountManifest answers a DatasetManifest for the mount in
	// place of {id}, while it is mounting or mounted.
	PathDatasetMountManifest = "/api/agent/dataset-mounts/{id}/manifest"
	// PathDatasetMountFile streams the bytes of one file of the mount's
	// dataset (query path=, as in the manifest).
	PathDatasetMountFile = "/api/agent/dataset-mounts/{id}/files"
	// PathDatasetImportUpload takes the tar of a dataset_import command (its
	// ID in place of {commandId}), streamed (chunked), once; answers a
	// DatasetImportResult.
	PathDatasetImportUpload = "/api/agent/datasets/imports/{commandId}"
)

// DatasetMarkerName is the marker file at the top of a mount's copy.
const DatasetMarkerName = ".rgpu-dataset.json"

// ContainerDatasetsDir is where a task's bound datasets appear in its container.
const ContainerDatasetsDir = "/rgpu/datasets"

// DatasetMountConcurrency is how many files a mount downloads at once.
const DatasetMountConcurrency = 4

type DatasetMountArgs struct {
	MountID   string `json:"mountId"`
	DatasetID string `json:"datasetId"`
	TenantID  string `json:"tenantId"`
	// Path is the absolute directory of the copy (MountPathProblem says which are allowed).
	Path string `json:"path"`
}

// DatasetMountProgress goes with the heartbeats of a mount.
type DatasetMountProgress struct {
	FilesDone  int   `json:"filesDone"`
	FilesTotal int   `json:"filesTotal"`
	BytesDone  int64 `json:"bytesDone"`
	BytesTotal int64 `json:"bytesTotal"`
}

type DatasetMountResult struct {
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	Downloaded int   `json:"downloaded"` // fetched now
	Kept       int   `json:"kept"`       // already there with the same size and MD5
	Removed    int   `json:"removed"`    // there but not in the dataset
}

type DatasetUnmountArgs struct {
	MountID string `json:"mountId"`
	Path    string `json:"path"`
}

type DatasetUnmountResult struct {
	// Removed: the copy was there and is gone; false when it was gone already.
	Removed bool `json:"removed"`
}

type DatasetImportArgs struct {
	DatasetID string `json:"datasetId"`
	Path      string `json:"path"`
}

// DatasetImportResult is where the api stored the tar and its size (bucket
// datasets, key imports/<datasetId>/<commandId>.tar).
type DatasetImportResult struct {
	ObjectKey string `json:"objectKey"`
	Size      int64  `json:"size"`
}

// DatasetImportObjectKey is where the tar of a machine import is kept.
func DatasetImportObjectKey(datasetID, commandID string) string {
	return "imports/" + datasetID + "/" + commandID + ".tar"
}

// DatasetManifest is every file of a mount's dataset.
type DatasetManifest struct {
	DatasetID string                `json:"datasetId"`
	Files     []DatasetManifestFile `json:"files"`
}

type DatasetManifestFile struct {
	Path string `json:"path"` // relative, '/'-separated, clean
	Size int64  `json:"size"`
	MD5  string `json:"md5"` // hex
}

// DatasetMarker is the content of DatasetMarkerName.
type DatasetMarker struct {
	MountID   string `json:"mountId"`
	DatasetID string `json:"datasetId"`
	TenantID  string `json:"tenantId"`
}

// systemDirs are never a mount's place (nor above one).
var systemDirs = []string{"/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr",
	"/var/lib", "/run", "/root/.ssh"}

// MountPathProblem says why p cannot hold a mount ("" when it can), as a
// reason the console translates (mounts.reason.path.<reason>):
// notAbsolute, notClean, tooShallow, systemDir, tooLong.
func MountPathProblem(p string) string {
	switch {
	case len(p) > 1024:
		return "tooLong"
	case !strings.HasPrefix(p, "/"):
		return "notAbsolute"
	case path.Clean(p) != p || strings.ContainsAny(p, "\x00\\\n\r"):
		return "notClean"
	case strings.Count(p, "/") < 2:
		return "tooShallow"
	}
	for _, d := range systemDirs {
		if p == d || strings.HasPrefix(p, d+"/") || strings.HasPrefix(d, "/lib") && strings.HasPrefix(p, "/lib") {
			return "systemDir"
		}
	}
	return ""
}

// ImportPathProblem says why p cannot be imported from ("" when it can):
// notAbsolute, notClean, systemDir (the kernel's and devices' trees), tooLong.
func ImportPathProblem(p string) string {
	switch {
	case len(p) > 1024:
		return "tooLong"
	case !strings.HasPrefix(p, "/"):
		return "notAbsolute"
	case path.Clean(p) != p || strings.ContainsAny(p, "\x00\\\n\r"):
		return "notClean"
	case p == "/":
		return "tooShallow"
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/run"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "systemDir"
		}
	}
	return ""
}

// TaskDataset is a mount bound read-only into a task's container.
type TaskDataset struct {
	HostPath      string `json:"hostPath"`
	ContainerPath string `json:"containerPath"` // under ContainerDatasetsDir
}
