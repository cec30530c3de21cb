package runner

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/agent/pusher"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// imagesResend: the list goes again after this long even unchanged, in
// case the api lost it.
const imagesResend = 10 * time.Minute

// reportImages posts the host's images at start, when they change (checked
// every ImagesEvery) and every imagesResend. A host without Docker has
// nothing to report; that is said once.
func (c *Config) reportImages(ctx context.Context, api *pusher.Client, ops *hostops.Ops) error {
	every := c.ImagesEvery
	if every <= 0 {
		every = time.Minute
	}
	log := c.log()
	bo := pusher.DefaultBackOff()
	var (
		last    []agentproto.HostImage
		sentAt  time.Time
		failing bool
	)
	for {
		wait := every
		images, err := ops.Images(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				log.Warn("unable to list the host's images; not reporting them until that works", "error", err)
				failing = true
			}
		case last != nil && slices.Equal(images, last) && time.Since(sentAt) < imagesResend:
		default:
			failing = false
			err := api.PostImages(ctx, agentproto.ImagesReport{Images: images})
			switch {
			case err == nil:
				bo.Reset()
				if !slices.Equal(images, last) {
					log.Info("host images reported", "images", len(images))
				}
				last, sentAt = images, time.Now()
			case errors.Is(err, pusher.ErrUnauthorized):
				return err
			case !pusher.Retryable(err):
				log.Error("the api rejected the host's images", "error", err)
				last, sentAt = images, time.Now() // not the same again before it changes
			default:
				wait = min(bo.NextBackOff(), every)
				log.Warn("unable to report the host's images; retrying", "in", wait.Round(time.Millisecond), "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}
