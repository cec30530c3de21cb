// Package fleet holds the rules for machine records shared by the add form,
// the edit form and the Excel import: the catalog of regions and GPU models,
// validation, and the values generated when left empty.
package fleet

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/auth"
)

type Region struct {
	Code string `json:"code" doc:"ASCII code, used in generated SSH domains"`
	Name string `json:"name" doc:"Display name, e.g. 北京"`
}

// Catalog is what the forms and the import template offer.
type Catalog struct {
	Regions   []Region `json:"regions"`
	GPUModels []string `json:"gpuModels"`
}

var DefaultCatalog = Catalog{
	Regions: []Region{{"beijing", "北京"}, {"shanghai", "上海"}, {"chongqing", "重庆"}, {"neimenggu", "内蒙"},
		{"guangzhou", "广州"}, {"hangzhou", "杭州"}, {"chengdu", "成都"}},
	GPUModels: []string{"RTX 5090", "RTX 4090", "RTX 3090", "A100 80G", "A800", "H100", "H800", "H20", "L40S"},
}

// ParseRegions reads "code:name,code:name" (MACHINE_REGIONS).
func ParseRegions(s string) ([]Region, error) {
	var out []Region
	for _, part := range strings.Split(s, ",") {
		code, name, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !slugRe.MatchString(code) || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("region %q must look like code:name with a lower-case ASCII code", part)
		}
		out = append(out, Region{Code: code, Name: strings.TrimSpace(name)})
	}
	return out, nil
}

// Config is how generated values look.
type Config struct {
	Catalog Catalog
	// SSHDomainPattern with {name}, {region} (the region code) and {base}.
	SSHDomainPattern string
	BaseDomain       string
}

// RegionCode finds a region by name or code.
func (c Catalog) RegionCode(region string) (Region, bool) {
	for _, r := range c.Regions {
		if strings.EqualFold(r.Name, region) || strings.EqualFold(r.Code, region) {
			return r, true
		}
	}
	return Region{}, false
}

func (c Catalog) HasGPUModel(m string) bool {
	for _, g := range c.GPUModels {
		if strings.EqualFold(g, m) {
			return true
		}
	}
	return false
}

// Spec is a machine as an admin types it (form or Excel row).
type Spec struct {
	Name                  string
	Region                string
	Room                  string
	GPUModel              string
	GPUMemoryGB           int
	GPUCount              int
	CUDAVersion           string
	DriverVersion         string
	CPUModel              string
	CPUCores              int
	MemoryGB              int
	DiskGB                int
	InternalIP            string
	SSHHost               string
	SSHPort               int
	ContainerDomainPrefix string
	SSHUser               string
	SSHPassword           string
}

// A field error's Location is the field's JSON name (e.g. "gpuCount"); its
// Code is machines.field.<problem>, the console's text for it.

var (
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	slugRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	hostRe    = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	versionRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,3}$`)
	userRe    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	nonSlug   = regexp.MustCompile(`[^a-z0-9]+`)
)

// Normalize trims the spec, fills what may be generated (SSH domain,
// password, port, user, container prefix) and validates every field. With
// generate false (an edit), empty SSH host or password are errors instead.
func (s *Spec) Normalize(cfg Config, generate bool) []apperr.FieldError {
	var errs []apperr.FieldError
	bad := func(field, code, message string, params ...apperr.P) {
		e := apperr.FieldError{Location: field, Code: "machines.field." + code}
		if len(params) > 0 {
			e.Params = params[0]
		}
		e.Message = apperr.Format(message, e.Params)
		errs = append(errs, e)
	}
	for _, p := range []*string{&s.Name, &s.Region, &s.Room, &s.GPUModel, &s.CUDAVersion, &s.DriverVersion, &s.CPUModel,
		&s.InternalIP, &s.SSHHost, &s.ContainerDomainPrefix, &s.SSHUser} {
		*p = strings.TrimSpace(*p)
	}
	if !nameRe.MatchString(s.Name) {
		bad("name", "name", "required; letters, digits, . _ - only, at most 63")
	}
	region, ok := cfg.Catalog.RegionCode(s.Region)
	if !ok {
		bad("region", "region", "unknown region", apperr.P{"region": s.Region})
	} else {
		s.Region = region.Name
	}
	if len(s.Room) > 100 {
		bad("room", "room", "at most 100 characters")
	}
	if s.GPUModel == "" || len(s.GPUModel) > 64 {
		bad("gpuModel", "gpuModel", "GPU model is required")
	} else {
		for _, g := range cfg.Catalog.GPUModels {
			if strings.EqualFold(g, s.GPUModel) {
				s.GPUModel = g
			}
		}
	}
	if s.GPUMemoryGB < 1 || s.GPUMemoryGB > 1024 {
		bad("gpuMemoryGb", "gpuMemoryGb", "GPU memory is required, 1–1024 GB")
	}
	if s.GPUCount < 1 || s.GPUCount > 64 {
		bad("gpuCount", "gpuCount", "GPU count is required, 1–64")
	}
	if s.CUDAVersion != "" && !versionRe.MatchString(s.CUDAVersion) {
		bad("cudaVersion", "cudaVersion", "like 12.4")
	}
	if s.DriverVersion != "" && !versionRe.MatchString(s.DriverVersion) {
		bad("driverVersion", "driverVersion", "like 550.54.15")
	}
	if len(s.CPUModel) > 128 {
		bad("cpuModel", "cpuModel", "at most 128 characters")
	}
	for _, f := range []struct {
		v    int
		name string
		max  int
	}{{s.CPUCores, "cpuCores", 4096}, {s.MemoryGB, "memoryGb", 1 << 20}, {s.DiskGB, "diskGb", 1 << 24}} {
		if f.v < 0 || f.v > f.max {
			bad(f.name, "range", "must be 0–{max}", apperr.P{"max": f.max})
		}
	}
	if s.InternalIP != "" && net.ParseIP(s.InternalIP) == nil {
		bad("internalIp", "internalIp", "not an IP address")
	}
	if s.SSHPort == 0 {
		s.SSHPort = 22
	}
	if s.SSHPort < 1 || s.SSHPort > 65535 {
		bad("sshPort", "sshPort", "must be 1–65535")
	}
	if s.SSHUser == "" {
		s.SSHUser = "root"
	}
	if !userRe.MatchString(s.SSHUser) {
		bad("sshUser", "sshUser", "not a valid user name")
	}
	if s.SSHHost == "" && generate && ok && nameRe.MatchString(s.Name) {
		s.SSHHost = cfg.SSHHost(s.Name, region.Code)
	}
	if s.SSHHost == "" || len(s.SSHHost) > 253 || !hostRe.MatchString(s.SSHHost) {
		bad("sshHost", "sshHost", "not a valid host name")
	}
	if s.ContainerDomainPrefix == "" && generate {
		s.ContainerDomainPrefix = slug(s.Name)
	}
	if s.ContainerDomainPrefix != "" && (len(s.ContainerDomainPrefix) > 63 || !slugRe.MatchString(s.ContainerDomainPrefix)) {
		bad("containerDomainPrefix", "containerDomainPrefix", "lower-case letters, digits and - only")
	}
	if s.SSHPassword == "" && generate {
		s.SSHPassword = auth.GeneratePassword()
	}
	// an edit leaves the password alone: it has its own reveal and reset
	if (generate || s.SSHPassword != "") && (len(s.SSHPassword) < 8 || len(s.SSHPassword) > 128 || strings.ContainsAny(s.SSHPassword, " \t\r\n:")) {
		bad("sshPassword", "sshPassword", "8–128 characters without spaces or colons")
	}
	return errs
}

// SSHHost renders the configured pattern for a machine.
func (c Config) SSHHost(name, regionCode string) string {
	p := c.SSHDomainPattern
	if p == "" {
		p = "{name}.{region}.ssh.{base}"
	}
	base := c.BaseDomain
	if base == "" {
		base = "remotegpu.local"
	}
	return strings.NewReplacer("{name}", slug(name), "{region}", regionCode, "{base}", base).Replace(p)
}

func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// SSHCommand is the ready command for one-click login.
func SSHCommand(user, host string, port int) string {
	if port == 22 {
		return fmt.Sprintf("ssh %s@%s", user, host)
	}
	return fmt.Sprintf("ssh -p %d %s@%s", port, user, host)
}
