package mailsink

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// maxDepth bounds nested multiparts.
const maxDepth = 10

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader converts any charset the WHATWG encoding list knows (GBK,
// GB18030, Big5, Shift_JIS, ISO-8859-x …) to UTF-8.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}

// parse reads a raw RFC 5322 message into subject, text and HTML bodies.
func parse(raw []byte) Message {
	var m Message
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseError = err.Error()
		m.Text = string(raw)
		return m
	}
	m.Subject = decodeHeader(msg.Header.Get("Subject"))
	m.HeaderFrom = decodeHeader(msg.Header.Get("From"))
	if err := walk(&m, textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		m.ParseError = err.Error()
		if m.Text == "" && m.HTML == "" {
			m.Text = string(raw)
		}
	}
	return m
}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// walk visits one MIME entity: multiparts recursively, text/plain and
// text/html bodies (the first of each that is not an attachment), and
// attachment names.
func walk(m *Message, h textproto.MIMEHeader, body io.Reader, depth int) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		// RFC 2045: an unreadable Content-Type means text/plain.
		mediaType, params = "text/plain", map[string]string{}
	}

	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxDepth {
			return fmt.Errorf("multipart nested deeper than %d", maxDepth)
		}
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			// NextRawPart leaves Content-Transfer-Encoding to us, so every
			// part is decoded the same way.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("unable to read %s part: %w", mediaType, err)
			}
			if err := walk(m, p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}

	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	filename = decodeHeader(filename)
	isAttachment := disposition == "attachment" || (filename != "" && !strings.HasPrefix(mediaType, "text/"))
	if isAttachment || (mediaType != "text/plain" && mediaType != "text/html") {
		if filename == "" {
			filename = "(" + mediaType + ")"
		}
		m.Attachments = append(m.Attachments, filename)
		_, _ = io.Copy(io.Discard, body)
		return nil
	}

	decoded, err := decodeBody(h.Get("Content-Transfer-Encoding"), params["charset"], body)
	if err != nil {
		return err
	}
	switch {
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = decoded
	case mediaType == "text/plain" && m.Text == "":
		m.Text = decoded
	default:
		m.Attachments = append(m.Attachments, "("+mediaType+")")
	}
	return nil
}

func decodeBody(cte, charset string, body io.Reader) (string, error) {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		// The decoder skips line breaks, and only those; drop stray blanks.
		r = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: body})
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	default: // 7bit, 8bit, binary, none
		r = body
	}
	// An unknown charset is shown as it is rather than not at all.
	if cr, err := charsetReader(charset, r); err == nil {
		r = cr
	}
	b, rerr := io.ReadAll(r)
	if rerr != nil {
		return string(b), fmt.Errorf("unable to decode %s body: %w", cte, rerr)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// stripSpace drops spaces and tabs (line breaks the base64 decoder ignores
// by itself).
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
