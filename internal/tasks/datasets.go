package tasks

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/store"
)

// MaxTaskDatasets is how many datasets a task binds at most.
const MaxTaskDatasets = 10

// checkDatasets checks the mounts a task binds: each the company's,
// mounted, on the task's machine, once; each appears read-only at
// /rgpu/datasets/<its dataset's name, made safe>.
func (s *Service) checkDatasets(ctx context.Context, p *problems, m *store.Machine, ids []string) ([]store.TaskDatasetUse, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxTaskDatasets {
		p.add("body.datasets", "mounts.taskMountsTooMany", "a task binds at most {max} datasets", apperr.P{"max": MaxTaskDatasets})
		return nil, nil
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if isUUID(id) {
			valid = append(valid, id)
		}
	}
	mounts, err := s.Store.TaskMounts(ctx, caller.From(ctx).TenantID, m.ID, valid)
	if err != nil {
		return nil, err
	}
	byID := map[string]store.TaskMount{}
	for _, tm := range mounts {
		byID[tm.MountID] = tm
	}
	seen, paths := map[string]bool{}, map[string]bool{}
	var uses []store.TaskDatasetUse
	for i, id := range ids {
		field := fmt.Sprintf("body.datasets[%d].mountId", i)
		tm, ok := byID[id]
		switch {
		case seen[id]:
			p.add(field, "mounts.taskMountDuplicate", "mount {mountId} is given twice", apperr.P{"mountId": id})
			continue
		case !ok:
			p.add(field, "mounts.taskMountInvalid", "mount {mountId} is not a mounted dataset on this machine", apperr.P{"mountId": id})
			continue
		}
		seen[id] = true
		cp := agentproto.ContainerDatasetsDir + "/" + SafeDatasetName(tm.DatasetName, tm.DatasetID)
		if paths[cp] {
			p.add(field, "mounts.taskDatasetNameClash", "two datasets would appear at the same path in the container: {path}", apperr.P{"path": cp})
			continue
		}
		paths[cp] = true
		uses = append(uses, store.TaskDatasetUse{DatasetID: tm.DatasetID, MountID: tm.MountID, ContainerPath: cp})
	}
	return uses, nil
}

// SafeDatasetName is a dataset's name as one path segment: letters and
// digits (any script), '-', '_' and '.'; the rest becomes '_'; at most 64
// characters; a name left empty (or dots only) is dataset-<id prefix>.
func SafeDatasetName(name, id string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(name) {
		if utf8.RuneCountInString(b.String()) >= 64 {
			break
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	out := b.String()
	if strings.Trim(out, "._") == "" {
		return "dataset-" + id[:min(8, len(id))]
	}
	return out
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}
