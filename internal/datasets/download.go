package datasets

import (
	"archive/zip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Downloads: the console asks for a link (POST download-link, signed in);
// the link is an unauthenticated GET with a ticket valid 5 minutes, so a
// browser can download without putting the access token in a URL. The
// ticket is an HS256 JWT over the dataset, the path, the user and its
// company, with a key derived from the JWT secret for this use alone; the
// GET checks again that the user may still read the dataset.

// TicketTTL is how long a download link works.
const TicketTTL = 5 * time.Minute

// DownloadPath is the public endpoint that redeems a ticket.
const DownloadPath = "/api/datasets/download"

const ticketAudience = "dataset-download"

type ticketClaims struct {
	DatasetID string `json:"ds"`
	Path      string `json:"path,omitempty"`
	TenantID  string `json:"tid,omitempty"`
	Admin     bool   `json:"adm,omitempty"`
	jwt.RegisteredClaims
}

func (s *Service) ticketKey() []byte {
	m := hmac.New(sha256.New, s.TicketKey)
	m.Write([]byte("remotegpu dataset download ticket"))
	return m.Sum(nil)
}

// DownloadLink is a link that downloads a file or the whole dataset.
type DownloadLink struct {
	URL       string    `json:"url" doc:"Relative to the console's origin; GET it (no Authorization header needed) within 5 minutes"`
	ExpiresAt time.Time `json:"expiresAt"`
	Filename  string    `json:"filename"`
}

// DownloadLink signs a link to one file (filePath) or, without, the whole
// dataset as a zip, for a dataset the caller reads (admins: any).
func (s *Service) DownloadLink(ctx context.Context, id, filePath string) (*DownloadLink, error) {
	d, err := s.read(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status != store.DatasetAvailable {
		return nil, apperr.ConflictErr("datasets.notAvailable", "the dataset is {status}: its files change once it is available",
			apperr.P{"status": d.Status})
	}
	name := zipName(d.Name)
	p := ""
	if strings.TrimSpace(filePath) != "" {
		if p, err = CleanPath(filePath, "body.path"); err != nil {
			return nil, err
		}
		if _, err := s.Store.GetDatasetFile(ctx, d.ID, p); errors.Is(err, store.ErrNotFound) {
			return nil, errFileNotFound(p)
		} else if err != nil {
			return nil, err
		}
		name = path.Base(p)
	}
	if len(s.TicketKey) == 0 {
		return nil, errDownloadUnavailable()
	}
	pr := caller.From(ctx)
	now := s.Now()
	exp := now.Add(TicketTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, ticketClaims{DatasetID: d.ID, Path: p, TenantID: pr.TenantID, Admin: pr.IsAdmin(),
		RegisteredClaims: jwt.RegisteredClaims{Subject: pr.UserID, Audience: jwt.ClaimStrings{ticketAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}})
	signed, err := tok.SignedString(s.ticketKey())
	if err != nil {
		return nil, err
	}
	return &DownloadLink{URL: DownloadPath + "?ticket=" + url.QueryEscape(signed), ExpiresAt: exp, Filename: name}, nil
}

func zipName(name string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", "\x00", "")
	return r.Replace(name) + ".zip"
}

// Download is what a ticket streams: Write sends it; Size is -1 for a zip.
type Download struct {
	Filename    string
	ContentType string
	Size        int64
	Write       func(ctx context.Context, w io.Writer) error
}

func errTicketInvalid() error {
	return apperr.ForbiddenErr("datasets.ticketInvalid", "the download link is not valid; ask for a new one")
}

// Redeem checks a ticket and opens what it names: 401
// datasets.ticketExpired after 5 minutes, 403 datasets.ticketInvalid for
// anything forged, and 404 when its user may no longer read the dataset.
// It counts the download.
func (s *Service) Redeem(ctx context.Context, ticket string) (*Download, error) {
	var c ticketClaims
	_, err := jwt.ParseWithClaims(ticket, &c, func(*jwt.Token) (any, error) { return s.ticketKey(), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(ticketAudience), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.Now))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, apperr.New(apperr.Unauthorized, "datasets.ticketExpired", "the download link has expired; ask for a new one")
	case err != nil || c.Subject == "" || c.DatasetID == "":
		return nil, errTicketInvalid()
	}
	// the user, as it is now: still active, still of that company and role
	u, err := s.Store.GetUser(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errTicketInvalid()
	}
	if err != nil {
		return nil, err
	}
	tenant := ""
	if u.TenantID != nil {
		tenant = *u.TenantID
	}
	if u.Status != "active" || tenant != c.TenantID || (u.Role == "admin") != c.Admin {
		return nil, errTicketInvalid()
	}
	ctx = caller.WithPrincipal(ctx, &caller.Principal{UserID: u.ID, Username: u.Username, Name: u.Name, Role: u.Role, TenantID: tenant})
	d, err := s.read(ctx, c.DatasetID)
	if err != nil {
		return nil, err
	}
	if d.Status != store.DatasetAvailable {
		return nil, apperr.ConflictErr("datasets.notAvailable", "the dataset is {status}: its files change once it is available",
			apperr.P{"status": d.Status})
	}
	if s.Objects == nil {
		return nil, errDownloadUnavailable()
	}
	var out *Download
	if c.Path != "" {
		f, err := s.Store.GetDatasetFile(ctx, d.ID, c.Path)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errFileNotFound(c.Path)
		}
		if err != nil {
			return nil, err
		}
		body, size, _, err := s.Objects.Get(ctx, objstore.BucketDatasets, f.ObjectKey)
		if err != nil {
			return nil, err
		}
		out = &Download{Filename: path.Base(f.Path), ContentType: "application/octet-stream", Size: size,
			Write: func(ctx context.Context, w io.Writer) error {
				defer body.Close()
				_, err := io.Copy(w, body)
				return err
			}}
	} else {
		out = &Download{Filename: zipName(d.Name), ContentType: "application/zip", Size: -1,
			Write: func(ctx context.Context, w io.Writer) error { return s.writeZip(ctx, d.ID, w) }}
	}
	if err := s.Store.CountDatasetDownload(ctx, d.ID); err != nil {
		return nil, err
	}
	return out, nil
}

// writeZip streams the dataset's files into a zip (stored, not
// compressed: datasets are mostly compressed media already), one object
// at a time.
func (s *Service) writeZip(ctx context.Context, datasetID string, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := s.Store.EachDatasetFile(ctx, datasetID, func(f store.DatasetFileObject) error {
		body, size, _, err := s.Objects.Get(ctx, objstore.BucketDatasets, f.ObjectKey)
		if err != nil {
			return err
		}
		defer body.Close()
		hw, err := zw.CreateHeader(&zip.FileHeader{Name: f.Path, Method: zip.Store, Modified: s.Now(), UncompressedSize64: uint64(size)})
		if err != nil {
			return err
		}
		n, err := io.Copy(hw, body)
		if err == nil && n != size {
			err = fmt.Errorf("%s: %d bytes read of %d", f.Path, n, size)
		}
		return err
	})
	if err != nil {
		slog.WarnContext(ctx, "dataset zip cut short", "dataset", datasetID, "err", err)
		return err
	}
	return zw.Close()
}
