package api

import (
	"io"

	"github.com/danielgtaylor/huma/v2"
	gojson "github.com/goccy/go-json"
)

// jsonFormat encodes response bodies with goccy/go-json, a drop-in for
// encoding/json that is several times faster on our list pages (encoding
// was the largest part of the api's CPU under the machine-list load test;
// BenchmarkEncodeMachinePage compares the two). Request bodies still go
// through encoding/json: Huma validates them before, and they are small.
var jsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		enc := gojson.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	},
	Unmarshal: huma.DefaultJSONFormat.Unmarshal,
}
