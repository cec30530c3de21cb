package ldapauth

import "testing"

func TestRoleFor(t *testing.T) {
	t.Parallel()
	const (
		admins = "cn=platform-admins,ou=groups,dc=example,dc=com"
		owners = "cn=customer-owners,ou=groups,dc=example,dc=com"
		staff  = "cn=staff,ou=groups,dc=example,dc=com"
	)
	tests := []struct {
		name         string
		groups       []string
		admin, owner string
		want         string
	}{
		{"no groups", nil, admins, owners, RoleMember},
		{"admin by DN", []string{staff, admins}, admins, owners, RoleAdmin},
		{"owner by DN", []string{owners}, admins, owners, RoleOwner},
		{"admin wins over owner", []string{owners, admins}, admins, owners, RoleAdmin},
		{"DN compared without case and spaces", []string{"CN=Platform-Admins, OU=Groups, DC=Example, DC=Com"}, admins, owners, RoleAdmin},
		{"by cn", []string{owners}, "platform-admins", "Customer-Owners", RoleOwner},
		{"cn must be the first RDN", []string{"cn=x,ou=customer-owners,dc=example,dc=com"}, "", "customer-owners", RoleMember},
		{"list of groups", []string{staff}, "", "nobody; staff", RoleOwner},
		{"empty mapping", []string{admins}, "", "", RoleMember},
		{"other group only", []string{staff}, admins, owners, RoleMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := roleFor(tt.groups, tt.admin, tt.owner); got != tt.want {
				t.Errorf("roleFor(%q, %q, %q) = %q, want %q", tt.groups, tt.admin, tt.owner, got, tt.want)
			}
		})
	}
}
