package monitoring

import "testing"

// Refused agent tokens are audited up to a burst per address; another
// address has its own.
func TestRefusalAuditsPerAddress(t *testing.T) {
	var r refusalAudits
	for i := range 60 {
		if !r.allow("203.0.113.7") {
			t.Fatalf("refusal %d not audited", i+1)
		}
	}
	if r.allow("203.0.113.7") {
		t.Fatal("the 61st refusal in a burst was audited")
	}
	if !r.allow("198.51.100.9") {
		t.Fatal("another address shares the first one's budget")
	}
}
