package payloadcodec

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

func key() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

type notification struct {
	Email string
	Name  string
}

func mustNew(t *testing.T, current []byte, previous ...[]byte) *Codec {
	t.Helper()
	c, err := New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	dc := DataConverter(mustNew(t, key()))
	in := notification{Email: "alice@example.com", Name: "Alice 客户"}
	p, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata[converter.MetadataEncoding]); got != Encoding {
		t.Fatalf("encoding %q, want %q", got, Encoding)
	}
	if len(p.Metadata[MetadataKeyID]) == 0 {
		t.Fatal("no key ID in the metadata")
	}
	raw, _ := proto.Marshal(p)
	for _, s := range []string{"alice@example.com", "Alice", "json/plain"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q readable in the encrypted payload", s)
		}
	}
	var out notification
	if err := dc.FromPayload(p, &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}

	// the same value twice: different ciphertexts (fresh nonce)
	p2, _ := dc.ToPayload(in)
	if bytes.Equal(p.Data, p2.Data) {
		t.Error("two encryptions of the same value are identical")
	}
	// nil and empty payload lists pass
	ps, err := dc.ToPayloads()
	if err != nil || ps != nil && len(ps.Payloads) != 0 {
		t.Fatalf("no values: %v %v", ps, err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old, cur := key(), key()
	before := mustNew(t, old)
	sealed, err := before.Encode([]*commonpb.Payload{plain(t, "bob@example.com")})
	if err != nil {
		t.Fatal(err)
	}

	after := mustNew(t, cur, old)
	if after.CurrentKeyID() == before.CurrentKeyID() {
		t.Fatal("two keys with the same ID")
	}
	opened, err := after.Decode(sealed)
	if err != nil || !proto.Equal(opened[0], plain(t, "bob@example.com")) {
		t.Fatalf("the previous key does not decrypt: %v", err)
	}
	fresh, _ := after.Encode(opened)
	if got := string(fresh[0].Metadata[MetadataKeyID]); got != KeyID(cur) {
		t.Fatalf("new payloads sealed with key %s, want the current %s", got, KeyID(cur))
	}

	// once the old key is dropped, its payloads are refused, naming the key
	dropped := mustNew(t, cur)
	if _, err := dropped.Decode(sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := New(key()[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func TestTamperDetected(t *testing.T) {
	t.Parallel()
	c := mustNew(t, key())
	other := mustNew(t, key())
	sealed, _ := c.Encode([]*commonpb.Payload{plain(t, "carol@example.com")})
	otherSealed, _ := other.Encode([]*commonpb.Payload{plain(t, "carol@example.com")})

	for name, mutate := range map[string]func(p *commonpb.Payload){
		"flipped bit":   func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 },
		"flipped nonce": func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":     func(p *commonpb.Payload) { p.Data = p.Data[:5] },
		"empty":         func(p *commonpb.Payload) { p.Data = nil },
		// another key's ciphertext under this key's ID
		"swapped key ID": func(p *commonpb.Payload) { p.Data = otherSealed[0].Data },
	} {
		p := proto.Clone(sealed[0]).(*commonpb.Payload)
		mutate(p)
		if _, err := c.Decode([]*commonpb.Payload{p}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := c.Decode(sealed); err != nil {
		t.Fatalf("the original no longer decodes: %v", err)
	}
}

// Histories written before encryption (and the replay tests' recorded ones) stay readable.
func TestPlainPayloadsPassThrough(t *testing.T) {
	t.Parallel()
	c := mustNew(t, key())
	in := []*commonpb.Payload{plain(t, "dave@example.com"), {Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/null")}}}
	out, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("payload %d was changed", i)
		}
	}
	var s string
	if err := DataConverter(c).FromPayload(in[0], &s); err != nil || s != "dave@example.com" {
		t.Fatalf("plain payload through the data converter: %q %v", s, err)
	}
}

func plain(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
