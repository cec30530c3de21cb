package machineimport

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/fleet"
)

// Row statuses of a preview.
const (
	StatusValid     = "valid"
	StatusInvalid   = "invalid"
	StatusDuplicate = "duplicate"
)

// CodeNameExists: a machine with the row's name exists; the row is skipped.
const CodeNameExists = "machines.import.nameExists"

// Masked replaces any SSH password shown in a preview.
const Masked = "********"

// CellError is what is wrong with one cell: Code names the message (the
// console translates it with Params), Message is English.
type CellError struct {
	Field   string
	Code    string
	Params  apperr.P
	Message string
	Cell    string // Excel cell, e.g. F7; empty when the file has no such column
}

// Checked is one row after validation.
type Checked struct {
	Row    int
	Name   string
	Status string
	Errors []CellError
	// Values are what the preview shows: for valid and duplicate rows the
	// normalized values (with what was generated), else the cell text; the
	// password is always masked.
	Values    map[string]string
	Generated []string
	// Spec is the normalized machine of a valid row, with its password in
	// plain text: the caller seals it and drops it.
	Spec fleet.Spec
}

// Check validates every row with fleet's rules (generating what may be
// generated), then marks duplicates: names that exist already (taken holds
// lower-cased names) and names repeated in the file (the first valid row
// wins). Invalid beats duplicate.
func Check(p *Parsed, cfg fleet.Config, taken map[string]bool) []Checked {
	out := make([]Checked, 0, len(p.Rows))
	firstRow := map[string]int{}
	for _, r := range p.Rows {
		c := Checked{Row: r.Row, Name: r.Values["name"], Values: map[string]string{}}
		spec, errs := specOf(r.Values)
		errs = append(errs, spec.Normalize(cfg, true)...)
		seen := map[string]bool{}
		for _, e := range errs {
			if seen[e.Location] { // a bad number also fails the range check: say it once
				continue
			}
			seen[e.Location] = true
			c.Errors = append(c.Errors, CellError{Field: e.Location, Code: e.Code, Params: e.Params, Message: e.Message, Cell: p.Cell(e.Location, r.Row)})
		}
		for field, v := range r.Values {
			c.Values[field] = v
		}
		if len(c.Errors) > 0 {
			c.Status = StatusInvalid
		} else {
			c.Spec = spec
			c.Name = spec.Name
			c.Values, c.Generated = shown(spec, r.Values)
			key := strings.ToLower(spec.Name)
			switch first, inFile := firstRow[key]; {
			case taken[key]:
				c.Status = StatusDuplicate
				c.Errors = []CellError{{Field: "name", Cell: p.Cell("name", r.Row), Code: CodeNameExists,
					Message: "a machine with this name exists; the row will be skipped"}}
			case inFile:
				c.Status = StatusDuplicate
				c.Errors = []CellError{{Field: "name", Cell: p.Cell("name", r.Row), Code: "machines.import.sameNameAsRow", Params: apperr.P{"row": first},
					Message: fmt.Sprintf("same name as row %d; the row will be skipped", first)}}
			default:
				c.Status = StatusValid
				firstRow[key] = r.Row
			}
			if c.Status == StatusDuplicate {
				c.Spec.SSHPassword = ""
			}
		}
		if c.Values["sshPassword"] != "" {
			c.Values["sshPassword"] = Masked
		}
		out = append(out, c)
	}
	return out
}

// Names are the trimmed names of the rows, for looking up which exist.
func (p *Parsed) Names() []string {
	out := make([]string, 0, len(p.Rows))
	for _, r := range p.Rows {
		if n := strings.TrimSpace(r.Values["name"]); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func specOf(v map[string]string) (fleet.Spec, []apperr.FieldError) {
	var errs []apperr.FieldError
	num := func(field string) int {
		s := v[field]
		if s == "" {
			return 0
		}
		n, err := parseInt(s)
		if err != nil {
			errs = append(errs, apperr.FieldError{Location: field, Code: "machines.field.notInteger", Params: apperr.P{"value": s},
				Message: fmt.Sprintf("%q is not a whole number", s)})
			return -1
		}
		return n
	}
	s := fleet.Spec{
		Name: v["name"], Region: v["region"], Room: v["room"], GPUModel: v["gpuModel"],
		GPUMemoryGB: num("gpuMemoryGb"), GPUCount: num("gpuCount"), CUDAVersion: v["cudaVersion"], DriverVersion: v["driverVersion"],
		CPUModel: v["cpuModel"], CPUCores: num("cpuCores"), MemoryGB: num("memoryGb"), DiskGB: num("diskGb"), InternalIP: v["internalIp"],
		SSHHost: v["sshHost"], SSHPort: num("sshPort"), ContainerDomainPrefix: v["containerDomainPrefix"], SSHUser: v["sshUser"],
		SSHPassword: v["sshPassword"],
	}
	if s.SSHPort == -1 {
		s.SSHPort = 1 << 20 // keeps Normalize from defaulting it to 22
	}
	return s, errs
}

// parseInt accepts "24", "24.0" and "2.4E1" (Excel stores numbers as floats).
func parseInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, fmt.Errorf("not a whole number: %q", s)
	}
	return int(f), nil
}

// shown renders a normalized spec for the preview and names the fields that were generated.
func shown(s fleet.Spec, raw map[string]string) (map[string]string, []string) {
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	v := map[string]string{
		"name": s.Name, "region": s.Region, "room": s.Room, "gpuModel": s.GPUModel, "gpuMemoryGb": itoa(s.GPUMemoryGB),
		"gpuCount": itoa(s.GPUCount), "cudaVersion": s.CUDAVersion, "driverVersion": s.DriverVersion, "cpuModel": s.CPUModel,
		"cpuCores": itoa(s.CPUCores), "memoryGb": itoa(s.MemoryGB), "diskGb": itoa(s.DiskGB), "internalIp": s.InternalIP,
		"sshHost": s.SSHHost, "sshPort": itoa(s.SSHPort), "containerDomainPrefix": s.ContainerDomainPrefix, "sshUser": s.SSHUser,
		"sshPassword": s.SSHPassword,
	}
	var gen []string
	for _, c := range Columns {
		if raw[c.Field] == "" && v[c.Field] != "" {
			gen = append(gen, c.Field)
		}
	}
	return v, gen
}
