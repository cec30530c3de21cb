package machineimport

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/fleet"
)

// Reasons a file is refused as a whole.
const (
	ReasonTooLarge         = "too_large"
	ReasonNotXLSX          = "not_xlsx"
	ReasonEncrypted        = "encrypted"
	ReasonCorrupt          = "corrupt"
	ReasonEmpty            = "empty"
	ReasonMissingColumns   = "missing_columns"
	ReasonDuplicateColumns = "duplicate_columns"
	ReasonFormulas         = "formulas"
	ReasonTooManyRows      = "too_many_rows"
)

// FileError refuses a whole file: Reason is one of the Reason constants (the
// kind of problem), Code names the message (machines.import.<camelCase>,
// which the console translates) with its Params, Message is English; Cells
// and Columns name what is wrong where that applies.
type FileError struct {
	Reason  string
	Code    string
	Params  apperr.P
	Message string
	Cells   []string // cells with formulas, e.g. E5
	Columns []string // missing or repeated columns, by their (Chinese) header
}

func (e *FileError) Error() string { return e.Message }

func fileErr(reason, key, message string, params ...apperr.P) *FileError {
	e := &FileError{Reason: reason, Code: "machines.import." + key}
	if len(params) > 0 {
		e.Params = params[0]
	}
	e.Message = apperr.Format(message, e.Params)
	return e
}

// TooLarge refuses a file over MaxFileBytes.
func TooLarge() *FileError {
	return fileErr(ReasonTooLarge, "tooLarge", "the file is larger than {mb} MB", apperr.P{"mb": MaxFileBytes >> 20})
}

// Row is one non-empty data row.
type Row struct {
	Row    int               // Excel row number (1-based)
	Values map[string]string // trimmed cell text by field, only for columns the file has
}

// Parsed is the data of a workbook.
type Parsed struct {
	Sheet     string
	HeaderRow int
	// Cols maps a field to its column letter, e.g. "gpuCount" → "F".
	Cols map[string]string
	Rows []Row
	// SampleSkipped is set when the template's example row was found and ignored.
	SampleSkipped bool
}

// Cell is the reference of a field in a row, e.g. "F7", or "" when the file lacks the column.
func (p *Parsed) Cell(field string, row int) string {
	c, ok := p.Cols[field]
	if !ok {
		return ""
	}
	return c + strconv.Itoa(row)
}

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

// Parse checks the bytes and reads the machine sheet: the sheet named 机器,
// else the first visible sheet other than the notes and lists. Columns are
// matched by header (Chinese, or the English field names) in any order;
// unknown columns are ignored. Formulas are refused, not evaluated.
func Parse(data []byte, cat fleet.Catalog) (*Parsed, error) {
	if len(data) > MaxFileBytes {
		return nil, TooLarge()
	}
	if len(data) == 0 {
		return nil, fileErr(ReasonEmpty, "emptyFile", "the file is empty")
	}
	if bytes.HasPrefix(data, oleMagic) {
		if bytes.Contains(data, utf16le("EncryptedPackage")) {
			return nil, fileErr(ReasonEncrypted, "encrypted", "the workbook is password-protected; remove the password, save as .xlsx and upload again")
		}
		return nil, fileErr(ReasonNotXLSX, "legacyXls", "this is a legacy .xls workbook; save it as .xlsx and upload again")
	}
	if !bytes.HasPrefix(data, zipMagic) {
		return nil, fileErr(ReasonNotXLSX, "notXlsx", "not an Excel .xlsx file; use the import template")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fileErr(ReasonCorrupt, "damaged", "the file is damaged and cannot be read")
	}
	if !hasFile(zr, "xl/workbook.xml") {
		return nil, fileErr(ReasonNotXLSX, "notWorkbook", "the archive is not an Excel workbook")
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true, UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: 16 << 20})
	if err != nil {
		return nil, fileErr(ReasonCorrupt, "unsupported", "the file is damaged or in an unsupported format")
	}
	defer f.Close()

	sheet := pickSheet(f)
	if sheet == "" {
		return nil, fileErr(ReasonEmpty, "noSheet", "the workbook has no sheet to import")
	}
	cells, err := formulaCells(zr, sheet)
	if err != nil {
		return nil, fileErr(ReasonCorrupt, "sheetDamaged", "the sheet cannot be read: the file is damaged")
	}
	if len(cells) > 0 {
		shown := cells
		if len(shown) > 20 {
			shown = shown[:20]
		}
		e := fileErr(ReasonFormulas, "formulas", "formulas are not accepted; paste these cells as values: {list}",
			apperr.P{"list": strings.Join(shown, ", ")})
		e.Cells = cells
		return nil, e
	}
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fileErr(ReasonCorrupt, "sheetUnreadable", "the sheet cannot be read")
	}
	p := &Parsed{Sheet: sheet, Cols: map[string]string{}}
	header := -1
	for i, r := range rows {
		if !blank(r) {
			header = i
			break
		}
	}
	if header < 0 {
		return nil, fileErr(ReasonEmpty, "sheetEmpty", "the sheet \"{sheet}\" is empty", apperr.P{"sheet": sheet})
	}
	p.HeaderRow = header + 1
	colOf := map[int]int{} // sheet column index → Columns index
	seen := map[int]string{}
	var dups []string
	for j, h := range rows[header] {
		k := headerKey(h)
		if k == "" {
			continue
		}
		ci, ok := columnIndex[k]
		if !ok {
			continue
		}
		letter, _ := excelize.ColumnNumberToName(j + 1)
		if prev, ok := seen[ci]; ok {
			dups = append(dups, fmt.Sprintf("%s (%s, %s)", Columns[ci].Header, prev, letter))
			continue
		}
		seen[ci] = letter
		colOf[j] = ci
		p.Cols[Columns[ci].Field] = letter
	}
	if len(dups) > 0 {
		e := fileErr(ReasonDuplicateColumns, "duplicateColumns", "columns appear twice: {list}", apperr.P{"list": strings.Join(dups, ", ")})
		e.Columns = dups
		return nil, e
	}
	var missing []string
	for _, c := range Columns {
		if _, ok := p.Cols[c.Field]; c.Required && !ok {
			missing = append(missing, c.Header)
		}
	}
	if len(missing) > 0 {
		e := fileErr(ReasonMissingColumns, "missingColumns", "required columns are missing: {list} (header in row {row}; use the import template)",
			apperr.P{"list": strings.Join(missing, ", "), "row": p.HeaderRow})
		e.Columns = missing
		return nil, e
	}
	sample := SampleRow(cat)
	for i := header + 1; i < len(rows); i++ {
		if blank(rows[i]) {
			continue
		}
		r := Row{Row: i + 1, Values: make(map[string]string, len(colOf))}
		any := false
		for j, ci := range colOf {
			v := ""
			if j < len(rows[i]) {
				v = strings.TrimSpace(rows[i][j])
			}
			r.Values[Columns[ci].Field] = v
			any = any || v != ""
		}
		if !any { // only unknown columns are filled
			continue
		}
		if !p.SampleSkipped && isSample(r.Values, sample) {
			p.SampleSkipped = true
			continue
		}
		if len(p.Rows) == MaxRows {
			return nil, fileErr(ReasonTooManyRows, "tooManyRows", "more than {max} rows; split the file", apperr.P{"max": MaxRows})
		}
		p.Rows = append(p.Rows, r)
	}
	if len(p.Rows) == 0 {
		return nil, fileErr(ReasonEmpty, "noDataRows", "the sheet \"{sheet}\" has no data rows (header in row {row})", apperr.P{"sheet": sheet, "row": p.HeaderRow})
	}
	return p, nil
}

func blank(r []string) bool {
	for _, c := range r {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func isSample(v, sample map[string]string) bool {
	for field, got := range v {
		if got != sample[field] {
			return false
		}
	}
	return true
}

func pickSheet(f *excelize.File) string {
	list := f.GetSheetList()
	for _, s := range list {
		if s == SheetMachines {
			return s
		}
	}
	for _, s := range list {
		if s == SheetNotes || s == SheetLists {
			continue
		}
		if visible, err := f.GetSheetVisible(s); err == nil && visible {
			return s
		}
	}
	return ""
}

func hasFile(zr *zip.Reader, name string) bool {
	for _, f := range zr.File {
		if f.Name == name {
			return true
		}
	}
	return false
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// formulaCells lists the cells of the sheet that hold a formula, reading
// the sheet's XML directly: a formula counts even when its cached value is
// empty, and nothing is evaluated.
func formulaCells(zr *zip.Reader, sheet string) ([]string, error) {
	part, err := sheetPart(zr, sheet)
	if err != nil {
		return nil, err
	}
	var zf *zip.File
	for _, f := range zr.File {
		if f.Name == part {
			zf = f
			break
		}
	}
	if zf == nil {
		return nil, fmt.Errorf("sheet part %s is missing", part)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, maxUnzipped))
	var (
		out      []string
		row, col int
		cellRef  string
		inCell   bool
		seenThis bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row++
				if r := attr(t, "r"); r != "" {
					if n, err := strconv.Atoi(r); err == nil {
						row = n
					}
				}
				col = 0
			case "c":
				col++
				cellRef = attr(t, "r")
				if cellRef != "" {
					if c, r, err := excelize.CellNameToCoordinates(cellRef); err == nil {
						col, row = c, r
					}
				} else {
					name, _ := excelize.CoordinatesToCellName(col, row)
					cellRef = name
				}
				inCell, seenThis = true, false
			case "f":
				if inCell && !seenThis {
					out = append(out, cellRef)
					seenThis = true
				}
			}
		case xml.EndElement:
			if t.Name.Local == "c" {
				inCell = false
			}
		}
	}
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// sheetPart finds the zip path of a sheet through the workbook and its relationships.
func sheetPart(zr *zip.Reader, sheet string) (string, error) {
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := readXML(zr, "xl/workbook.xml", &wb); err != nil {
		return "", err
	}
	if err := readXML(zr, "xl/_rels/workbook.xml.rels", &rels); err != nil {
		return "", err
	}
	for _, s := range wb.Sheets {
		if s.Name != sheet {
			continue
		}
		for _, r := range rels.Rels {
			if r.ID == s.RID {
				if strings.HasPrefix(r.Target, "/") {
					return strings.TrimPrefix(r.Target, "/"), nil
				}
				return path.Join("xl", r.Target), nil
			}
		}
	}
	return "", fmt.Errorf("sheet %q not found in the workbook", sheet)
}

func readXML(zr *zip.Reader, name string, v any) error {
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		return xml.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(v)
	}
	return fmt.Errorf("%s is missing", name)
}
