package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/auth"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store"
)

// Demo accounts: printed by `make run`, used by the browser tests.
var demoCustomers = []struct {
	tenant store.Tenant
	users  []demoUser
}{
	{store.Tenant{Name: "张伟", Company: "Acme 智能科技有限公司", Code: "acme", Email: "ops@acme.example", Phone: "13800000001", Status: "active"},
		[]demoUser{{"acme-owner", "Owner@12345", "张伟", "owner@acme.example", "owner"}, {"acme-dev", "Member@12345", "李娜", "dev@acme.example", "member"}}},
	{store.Tenant{Name: "王芳", Company: "Globex 数据有限公司", Code: "globex", Email: "it@globex.example", Phone: "13800000002", Status: "active"},
		[]demoUser{{"globex-owner", "Owner@12345", "王芳", "owner@globex.example", "owner"}, {"globex-dev", "Member@12345", "刘洋", "dev@globex.example", "member"}}},
}

type demoUser struct{ username, password, name, email, role string }

var demoAdmin = demoUser{"admin", "Admin@12345", "平台管理员", "admin@remotegpu.local", "admin"}

// seedDemo creates the demo admin, two customers with an owner and a member
// each, and a welcome announcement; existing ones are left as they are.
func seedDemo(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()

	if err := ensureUser(ctx, st, nil, demoAdmin); err != nil {
		return err
	}
	for _, c := range demoCustomers {
		t, err := st.GetTenantByCode(ctx, c.tenant.Code)
		if errors.Is(err, store.ErrNotFound) {
			t = &c.tenant
			err = st.CreateTenant(ctx, t)
		}
		if err != nil {
			return fmt.Errorf("unable to seed customer %s: %w", c.tenant.Code, err)
		}
		for _, u := range c.users {
			if err := ensureUser(ctx, st, &t.ID, u); err != nil {
				return err
			}
		}
	}
	if _, n, err := st.ListAnnouncements(ctx, false, store.Page{PageSize: 1}); err != nil {
		return err
	} else if n == 0 {
		// An announcement is text an admin writes, in one language: the demo's is in the console's default one.
		a := store.Announcement{Title: "欢迎使用 RemoteGPU", Level: "info", Published: true,
			Content: "整机 GPU 长期租用平台：机器、任务、镜像、数据集与监控。"}
		if err := st.CreateAnnouncement(ctx, &a, ""); err != nil {
			return err
		}
	}

	fmt.Println("Demo accounts (username / password):")
	fmt.Printf("  platform admin   %-13s / %s\n", demoAdmin.username, demoAdmin.password)
	for _, c := range demoCustomers {
		for _, u := range c.users {
			fmt.Printf("  %-6s %-9s %-13s / %s\n", c.tenant.Code, u.role, u.username, u.password)
		}
	}
	return nil
}

func ensureUser(ctx context.Context, st *store.Store, tenantID *string, d demoUser) error {
	_, err := st.FindUserByLogin(ctx, d.username)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash, err := auth.HashPassword(d.password)
	if err != nil {
		return err
	}
	u := &store.User{TenantID: tenantID, Username: d.username, Name: d.name, Email: d.email, Role: d.role, AuthSource: "local", PasswordHash: hash}
	return st.InTx(ctx, func(tx pgx.Tx) error { return store.New(tx).CreateUser(ctx, u) })
}
