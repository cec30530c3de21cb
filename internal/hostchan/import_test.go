package hostchan

import (
	"encoding/json"
	"testing"

	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/store"
)

// A dataset_import's result must name the key derived from the command:
// whatever the host wrote into the command's progress (its heartbeats'),
// another key is refused.
func TestImportMatches(t *testing.T) {
	const ds, id = "0b254c09-fc42-4c80-9eea-537bcf475d2d", "61c397a4-ea57-45ff-9242-77f0c118e748"
	args, _ := json.Marshal(agentproto.DatasetImportArgs{DatasetID: ds, Path: "/data"})
	res := func(key string) json.RawMessage {
		b, _ := json.Marshal(agentproto.DatasetImportResult{ObjectKey: key, Size: 10})
		return b
	}
	forged := res("imports/" + ds + "/../../other-tenant/blobs/x")
	cmd := &store.HostCommand{ID: id, Kind: agentproto.KindDatasetImport, Args: args, Progress: json.RawMessage(`{"objectKey":"imports/` + ds + `/../../other-tenant/blobs/x","size":10}`)}
	if !importMatches(cmd, res(agentproto.DatasetImportObjectKey(ds, id))) {
		t.Fatal("the command's own key is refused")
	}
	for _, r := range []json.RawMessage{forged, res("imports/" + ds + "/other.tar"), res(""), json.RawMessage(`not json`)} {
		if importMatches(cmd, r) {
			t.Fatalf("accepted %s", r)
		}
	}
}
