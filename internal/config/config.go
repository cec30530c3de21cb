// Package config reads the process configuration from environment variables.
// Every variable is listed, with its default, in README.md.
package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/remotegpu/remotegpu/internal/fleet"
)

type Config struct {
	ListenAddr string
	PublicURL  string
	WebDir     string
	LogLevel   string
	LogFormat  string

	DatabaseURL string

	TemporalAddress   string
	TemporalNamespace string
	TemporalTaskQueue string
	TemporalUIURL     string
	// TemporalPayloadKey encrypts workflow payloads (internal/payloadcodec);
	// the previous keys still decrypt histories written before a rotation.
	TemporalPayloadKey         []byte
	TemporalPayloadKeyPrevious [][]byte

	S3Endpoint     string
	S3AccessKey    string
	S3SecretKey    string
	S3UseSSL       bool
	S3BucketPrefix string

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string
	DevMailSink  string

	AlertWebhookURL string

	LDAP       LDAP
	Fleet      Fleet
	Monitoring Monitoring
	Datasets   Datasets
	Security   Security

	JWTSecret  []byte
	SecretsKey []byte
	// SecretsKeyPrevious are older keys, still accepted for decryption during a rotation.
	SecretsKeyPrevious [][]byte
	AccessTokenTTL     time.Duration
	RefreshTokenTTL    time.Duration
}

// FleetConfig turns the settings into the rules of internal/fleet.
func (f Fleet) Config() fleet.Config {
	return fleet.Config{Catalog: fleet.Catalog{Regions: f.Regions, GPUModels: f.GPUModels},
		SSHDomainPattern: f.SSHDomainPattern, BaseDomain: f.SSHBaseDomain}
}

// Fleet is how machine records are generated and leases behave.
type Fleet struct {
	SSHDomainPattern string
	SSHBaseDomain    string
	Regions          []fleet.Region
	GPUModels        []string
	ExpiringNotice   time.Duration
	// BootstrapTokenTTL is how long an agent bootstrap token works (once).
	BootstrapTokenTTL time.Duration
}

// BootstrapTTL is BootstrapTokenTTL, or its default of 24 h.
func (f Fleet) BootstrapTTL() time.Duration {
	if f.BootstrapTokenTTL <= 0 {
		return 24 * time.Hour
	}
	return f.BootstrapTokenTTL
}

type LDAP struct {
	URL              string
	BindDN           string
	BindPassword     string
	BaseDN           string
	UserFilter       string
	AttrUsername     string
	AttrEmail        string
	AttrName         string
	AttrPhone        string
	AttrEmployeeID   string
	AttrTenant       string
	GroupAdmin       string
	GroupOwner       string
	PasswordResetURL string
}

// Load reads the environment. It fails on malformed values, never silently
// falls back for a value that was set.
func Load() (Config, error) {
	var errs []string
	c := Config{
		ListenAddr: env("LISTEN_ADDR", "127.0.0.1:8080"),
		PublicURL:  env("PUBLIC_URL", ""),
		WebDir:     env("WEB_DIR", "web/dist"),
		LogLevel:   env("LOG_LEVEL", "info"),
		LogFormat:  env("LOG_FORMAT", "text"),

		DatabaseURL: env("DATABASE_URL", ""),

		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		TemporalTaskQueue: env("TEMPORAL_TASK_QUEUE", "remotegpu"),
		TemporalUIURL:     env("TEMPORAL_UI_URL", ""),

		S3Endpoint:     env("S3_ENDPOINT", ""),
		S3AccessKey:    env("S3_ACCESS_KEY", ""),
		S3SecretKey:    env("S3_SECRET_KEY", ""),
		S3BucketPrefix: env("S3_BUCKET_PREFIX", "remotegpu-"),

		SMTPHost:     env("SMTP_HOST", ""),
		SMTPUsername: env("SMTP_USERNAME", ""),
		SMTPPassword: env("SMTP_PASSWORD", ""),
		SMTPFrom:     env("SMTP_FROM", "RemoteGPU <no-reply@remotegpu.local>"),
		SMTPTLS:      env("SMTP_TLS", "none"),
		DevMailSink:  env("DEV_MAIL_SINK", ""),

		AlertWebhookURL: env("ALERT_WEBHOOK_URL", ""),

		LDAP: LDAP{
			URL:              env("LDAP_URL", ""),
			BindDN:           env("LDAP_BIND_DN", ""),
			BindPassword:     env("LDAP_BIND_PASSWORD", ""),
			BaseDN:           env("LDAP_BASE_DN", ""),
			UserFilter:       env("LDAP_USER_FILTER", "(&(objectClass=inetOrgPerson)(|(uid=%[1]s)(mail=%[1]s)(employeeNumber=%[1]s)))"),
			AttrUsername:     env("LDAP_ATTR_USERNAME", "uid"),
			AttrEmail:        env("LDAP_ATTR_EMAIL", "mail"),
			AttrName:         env("LDAP_ATTR_NAME", "cn"),
			AttrPhone:        env("LDAP_ATTR_PHONE", "telephoneNumber"),
			AttrEmployeeID:   env("LDAP_ATTR_EMPLOYEE_ID", "employeeNumber"),
			AttrTenant:       env("LDAP_ATTR_TENANT", "o"),
			GroupAdmin:       env("LDAP_GROUP_ADMIN", ""),
			GroupOwner:       env("LDAP_GROUP_OWNER", ""),
			PasswordResetURL: env("LDAP_PASSWORD_RESET_URL", ""),
		},
	}
	var err error
	c.Fleet = Fleet{
		SSHDomainPattern: env("SSH_DOMAIN_PATTERN", "{name}.{region}.ssh.{base}"),
		SSHBaseDomain:    env("SSH_BASE_DOMAIN", "remotegpu.local"),
		Regions:          fleet.DefaultCatalog.Regions,
		GPUModels:        fleet.DefaultCatalog.GPUModels,
	}
	if v := os.Getenv("MACHINE_REGIONS"); v != "" {
		if c.Fleet.Regions, err = fleet.ParseRegions(v); err != nil {
			errs = append(errs, "MACHINE_REGIONS: "+err.Error())
		}
	}
	if v := os.Getenv("GPU_MODELS"); v != "" {
		c.Fleet.GPUModels = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.Fleet.GPUModels = append(c.Fleet.GPUModels, m)
			}
		}
	}
	if days, err := strconv.Atoi(env("ALLOCATION_EXPIRING_DAYS", "7")); err != nil || days < 0 {
		errs = append(errs, "ALLOCATION_EXPIRING_DAYS: must be a whole number of days")
	} else {
		c.Fleet.ExpiringNotice = time.Duration(days) * 24 * time.Hour
	}
	if c.Fleet.BootstrapTokenTTL, err = time.ParseDuration(env("BOOTSTRAP_TOKEN_TTL", "24h")); err != nil || c.Fleet.BootstrapTokenTTL <= 0 {
		errs = append(errs, "BOOTSTRAP_TOKEN_TTL: must be a positive duration such as 24h")
	}
	c.Monitoring = loadMonitoring(&errs)
	c.Datasets = loadDatasets(&errs)
	c.Security = loadSecurity(&errs)
	if c.SMTPPort, err = strconv.Atoi(env("SMTP_PORT", "25")); err != nil {
		errs = append(errs, "SMTP_PORT: "+err.Error())
	}
	if c.S3UseSSL, err = strconv.ParseBool(env("S3_USE_SSL", "false")); err != nil {
		errs = append(errs, "S3_USE_SSL: "+err.Error())
	}
	if c.AccessTokenTTL, err = time.ParseDuration(env("ACCESS_TOKEN_TTL", "15m")); err != nil {
		errs = append(errs, "ACCESS_TOKEN_TTL: "+err.Error())
	}
	if c.RefreshTokenTTL, err = time.ParseDuration(env("REFRESH_TOKEN_TTL", "720h")); err != nil {
		errs = append(errs, "REFRESH_TOKEN_TTL: "+err.Error())
	}
	c.JWTSecret = []byte(os.Getenv("JWT_SECRET"))
	if k := os.Getenv("SECRETS_KEY"); k != "" {
		if c.SecretsKey, err = base64.StdEncoding.DecodeString(k); err != nil || len(c.SecretsKey) != 32 {
			errs = append(errs, "SECRETS_KEY: must be 32 bytes, base64-encoded")
		}
	}
	for i, k := range strings.Split(os.Getenv("SECRETS_KEY_PREVIOUS"), ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 32 {
			errs = append(errs, fmt.Sprintf("SECRETS_KEY_PREVIOUS: key %d must be 32 bytes, base64-encoded", i+1))
			continue
		}
		c.SecretsKeyPrevious = append(c.SecretsKeyPrevious, b)
	}
	c.TemporalPayloadKey = parseKey("TEMPORAL_PAYLOAD_KEY", os.Getenv("TEMPORAL_PAYLOAD_KEY"), &errs)
	for i, k := range strings.Split(os.Getenv("TEMPORAL_PAYLOAD_KEY_PREVIOUS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			if b := parseKey(fmt.Sprintf("TEMPORAL_PAYLOAD_KEY_PREVIOUS: key %d", i+1), k, &errs); b != nil {
				c.TemporalPayloadKeyPrevious = append(c.TemporalPayloadKeyPrevious, b)
			}
		}
	}
	switch c.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		errs = append(errs, "SMTP_TLS: must be none, starttls or tls")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// RequireServer checks what the api and the worker cannot run without.
func (c Config) RequireServer() error {
	var missing []string
	if c.DatabaseURL == "" {
		missing = append(missing, "DATABASE_URL")
	}
	if len(c.JWTSecret) < 32 {
		missing = append(missing, "JWT_SECRET (at least 32 characters)")
	}
	if len(c.SecretsKey) != 32 {
		missing = append(missing, "SECRETS_KEY (32 bytes, base64)")
	}
	if len(c.TemporalPayloadKey) != 32 {
		missing = append(missing, "TEMPORAL_PAYLOAD_KEY (32 bytes, base64)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing configuration: %s", strings.Join(missing, ", "))
	}
	return nil
}

// parseKey decodes a 32-byte base64 key; empty is nil, anything else malformed is an error.
func parseKey(name, v string, errs *[]string) []byte {
	if v == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != 32 {
		*errs = append(*errs, name+" must be 32 bytes, base64-encoded")
		return nil
	}
	return b
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
