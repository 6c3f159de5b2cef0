package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/internal/cli"
)

func init() {
	register("token", runToken, "print a bearer token for the dashboard API (make token ROLE=leader USER=lee)")
}

func runToken(_ context.Context, args []string) error {
	var role, user, secret string
	var ttl time.Duration
	f := cli.New("crmctl token", "mint an HS256 bearer token for the dashboard API. Roles: leader, rep (user = their owner_id), data, admin. "+
		"The secret defaults to the local stack's development secret, the same default as dashboard-api's.",
		"  crmctl token --role leader --user lee\n  crmctl token --role rep --user rep-7 --ttl 1h")
	f.String(&role, "role", "", "leader", "leader, rep, data or admin")
	f.String(&user, "user", "", "", "the token's subject; for reps, their owner_id")
	f.Duration(&ttl, "ttl", "", 12*time.Hour, "validity")
	f.Secret(&secret, "jwt-secret", "CRM_JWT_SECRET", "HS256 secret; empty = the local dev secret")
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("%w: --user is required", errUsage)
	}
	if !auth.Role(role).Valid() {
		return fmt.Errorf("%w: --role must be one of leader, rep, data, admin", errUsage)
	}
	if ttl <= 0 || ttl > 90*24*time.Hour {
		return fmt.Errorf("%w: --ttl must be between 1s and 2160h", errUsage)
	}
	if secret == "" {
		secret = auth.DevSecret
	}
	tok, err := auth.Issue([]byte(secret), user, auth.Role(role), ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
