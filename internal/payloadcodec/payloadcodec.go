// Package payloadcodec encrypts Temporal payloads at rest with AES-256-GCM,
// so that workflow histories hold no readable e-mail addresses or customer
// data. Every control-plane client uses it through ClientOptions; the api
// serves it to the Temporal UI and CLI as a remote codec (api/temporal_codec.go).
//
// An encrypted payload has the metadata encoding "binary/encrypted" and the
// ID of its key; its data is nonce | AES-GCM(original payload, metadata and
// data, as protobuf). Rotation works like SECRETS_KEY: new payloads use the
// current key, previous keys still decrypt.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks an encrypted payload (metadata "encoding").
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that sealed the payload.
	MetadataKeyID = "encryption-key-id"
)

// ErrUnknownKey is returned for a payload sealed with a key that is configured neither
// as TEMPORAL_PAYLOAD_KEY nor in TEMPORAL_PAYLOAD_KEY_PREVIOUS.
var ErrUnknownKey = errors.New("payload was encrypted with a key that is not configured")

// Codec is a converter.PayloadCodec. It is safe for concurrent use.
type Codec struct {
	id   string
	keys map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New takes the current key and any previous ones (32 bytes each).
func New(current []byte, previous ...[]byte) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("temporal payload key %d must be 32 bytes, got %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if i == 0 {
			c.id = id
		}
		c.keys[id] = aead
	}
	return c, nil
}

// KeyID is the short public name of a key, stored with every payload it seals.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("remotegpu-temporal-payload-key:"), key...))
	return hex.EncodeToString(h[:4])
}

// CurrentKeyID names the key new payloads are sealed with.
func (c *Codec) CurrentKeyID() string { return c.id }

// Encode seals every payload with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("unable to marshal payload: %w", err)
		}
		data := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(data); err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.id)},
			Data:     aead.Seal(data, data, plain, additionalData(c.id)),
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
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return payloads, fmt.Errorf("%w (key ID %q)", ErrUnknownKey, id)
		}
		ns := aead.NonceSize()
		if len(p.GetData()) < ns {
			return payloads, errors.New("malformed encrypted payload")
		}
		plain, err := aead.Open(nil, p.Data[:ns], p.Data[ns:], additionalData(id))
		if err != nil {
			return payloads, fmt.Errorf("unable to decrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{}
		if err := proto.Unmarshal(plain, out[i]); err != nil {
			return payloads, fmt.Errorf("unable to unmarshal decrypted payload: %w", err)
		}
	}
	return out, nil
}

// additionalData binds the ciphertext to the key ID in its metadata.
func additionalData(id string) []byte { return []byte(Encoding + ":" + id) }

// DataConverter is the SDK's default converter with payloads sealed by c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
