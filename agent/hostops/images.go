package hostops

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// MaxImages is how many images a report lists (agentproto.ImagesReport).
const MaxImages = 2000

// Images lists the host's images by reference (repo:tag), sorted; images
// without a tag cannot be named in a task and are left out.
func (o *Ops) Images(ctx context.Context) ([]agentproto.HostImage, error) {
	if err := o.taskDocker(); err != nil {
		return nil, err
	}
	list, err := o.Docker.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, dockerErr(o.Docker.DaemonHost(), "unable to list the images", err)
	}
	out := []agentproto.HostImage{}
	for _, img := range list {
		for _, ref := range img.RepoTags {
			if ref == "" || strings.HasPrefix(ref, "<none>") {
				continue
			}
			out = append(out, agentproto.HostImage{Ref: ref, ID: img.ID, Size: img.Size, Created: time.Unix(img.Created, 0).UTC()})
		}
	}
	slices.SortFunc(out, func(a, b agentproto.HostImage) int { return strings.Compare(a.Ref, b.Ref) })
	if len(out) > MaxImages {
		out = out[:MaxImages]
	}
	return out, nil
}
