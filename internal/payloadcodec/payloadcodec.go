// Package payloadcodec encrypts Temporal payloads at rest with AES-256-GCM,
// so that workflow histories hold no readable e-mail addresses or customer
// data. Every control-plane client uses it through ClientOptions; the api
// serves it to the Temporal UI and CLI as a remote codec (api/temporal_codec.go).
//
// An encrypted payload has the metadata encoding "binary/encrypted" and the
// ID of its key; its data is the original payload (metadata and data, as
// protobuf) sealed like every other secret of the platform (internal/secrets:
// AES-256-GCM, the key's ID inside). Rotation works like SECRETS_KEY: new
// payloads use the current key, previous keys still decrypt.
package payloadcodec

import (
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/remotegpu/remotegpu/internal/secrets"
)

const (
	// Encoding marks an encrypted payload (metadata "encoding").
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that sealed the payload (for operators;
	// the sealed data names it too).
	MetadataKeyID = "encryption-key-id"
)

// ErrUnknownKey is returned for a payload sealed with a key that is configured neither
// as TEMPORAL_PAYLOAD_KEY nor in TEMPORAL_PAYLOAD_KEY_PREVIOUS.
var ErrUnknownKey = secrets.ErrUnknownKey

// Codec is a converter.PayloadCodec. It is safe for concurrent use.
type Codec struct {
	box *secrets.Box
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New takes the current key and any previous ones (32 bytes each).
func New(current []byte, previous ...[]byte) (*Codec, error) {
	box, err := secrets.New(current, previous...)
	if err != nil {
		return nil, fmt.Errorf("temporal payload keys: %w", err)
	}
	return &Codec{box: box}, nil
}

// KeyID is the short public name of a key, stored with every payload it seals.
func KeyID(key []byte) string { return secrets.KeyID(key) }

// CurrentKeyID names the key new payloads are sealed with.
func (c *Codec) CurrentKeyID() string { return c.box.KeyID() }

// Encode seals every payload with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("unable to marshal payload: %w", err)
		}
		sealed, err := c.box.Seal(string(plain))
		if err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.box.KeyID())},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode opens encrypted payloads and passes any other through unchanged:
// histories written before encryption was turned on stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		plain, err := c.box.Open(p.GetData())
		if errors.Is(err, secrets.ErrUnknownKey) {
			return payloads, fmt.Errorf("%w (key ID %q)", ErrUnknownKey, p.GetMetadata()[MetadataKeyID])
		}
		if err != nil {
			return payloads, fmt.Errorf("unable to decrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{}
		if err := proto.Unmarshal([]byte(plain), out[i]); err != nil {
			return payloads, fmt.Errorf("unable to unmarshal decrypted payload: %w", err)
		}
	}
	return out, nil
}

// DataConverter is the SDK's default converter with payloads sealed by c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
