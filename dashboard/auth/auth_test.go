package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	t0         = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
)

func claims(sub, role string, exp time.Time) Claims {
	return Claims{Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Subject: sub, Issuer: DefaultIssuer, Audience: jwt.ClaimStrings{DefaultAudience},
		IssuedAt: jwt.NewNumericDate(t0.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(exp),
	}}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	v, err := NewVerifier(Config{Secret: testSecret, PublicKeys: []crypto.PublicKey{&rsaKey.PublicKey, &ecKey.PublicKey}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	good := claims("rep-7", "rep", t0.Add(time.Hour))
	issued, err := Issue(testSecret, "lee", Leader, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	noExp := good
	noExp.ExpiresAt = nil
	wrongAud := good
	wrongAud.Audience = jwt.ClaimStrings{"other"}
	wrongIss := good
	wrongIss.Issuer = "evil"
	future := good
	future.NotBefore = jwt.NewNumericDate(t0.Add(time.Hour))
	tests := []struct {
		name     string
		token    string
		wantSub  string
		wantRole Role
	}{
		{"hs256", sign(t, jwt.SigningMethodHS256, testSecret, good), "rep-7", Rep},
		{"issued", issued, "lee", Leader},
		{"rs256", sign(t, jwt.SigningMethodRS256, rsaKey, claims("d", "data", t0.Add(time.Hour))), "d", Data},
		{"es256", sign(t, jwt.SigningMethodES256, ecKey, claims("a", "admin", t0.Add(time.Hour))), "a", Admin},
		{"missing", "", "", ""},
		{"garbage", "not.a.token", "", ""},
		{"forged secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-long!"), good), "", ""},
		{"forged rsa", sign(t, jwt.SigningMethodRS256, otherRSA, good), "", ""},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), "", ""},
		{"hs384 not accepted", sign(t, jwt.SigningMethodHS384, testSecret, good), "", ""},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, claims("rep-7", "rep", t0.Add(-time.Minute))), "", ""},
		{"no exp", sign(t, jwt.SigningMethodHS256, testSecret, noExp), "", ""},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, testSecret, future), "", ""},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, testSecret, wrongAud), "", ""},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, testSecret, wrongIss), "", ""},
		{"unknown role", sign(t, jwt.SigningMethodHS256, testSecret, claims("x", "root", t0.Add(time.Hour))), "", ""},
		{"empty subject", sign(t, jwt.SigningMethodHS256, testSecret, claims("", "leader", t0.Add(time.Hour))), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(tc.token)
			if tc.wantRole == "" {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("Verify = %+v, %v; want ErrUnauthenticated", p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != tc.wantSub || p.Role != tc.wantRole {
				t.Fatalf("got %+v, want %s/%s", p, tc.wantSub, tc.wantRole)
			}
		})
	}
}

// An RS256 token must not verify against the HMAC secret path, and an HS256
// token signed with the RSA public key bytes must not verify either.
func TestAlgorithmConfusion(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	v, err := NewVerifier(Config{PublicKeys: []crypto.PublicKey{&rsaKey.PublicKey}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, rsaKey.PublicKey.N.Bytes(), claims("x", "leader", t0.Add(time.Hour)))
	if _, err := v.Verify(tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("HS256 accepted by an RSA-only verifier: %v", err)
	}
}

func TestPermissions(t *testing.T) {
	tests := []struct {
		role  Role
		perm  Permission
		allow bool
	}{
		{Leader, ReadModels, true}, {Leader, AckAlerts, true}, {Leader, ReadAudit, false},
		{Rep, ReadLeads, true}, {Rep, AckAlerts, true}, {Rep, ReadModels, false}, {Rep, ReadPipeline, false},
		{Data, ReadModels, true}, {Data, ReadLeads, true}, {Data, AckAlerts, false},
		{Admin, ReadAudit, true}, {Admin, ReadModels, true},
		{Role("bogus"), ReadLeads, false},
	}
	for _, tc := range tests {
		if got := (Principal{Role: tc.role}).Can(tc.perm); got != tc.allow {
			t.Errorf("%s can %d = %v, want %v", tc.role, tc.perm, got, tc.allow)
		}
	}
	if s := (Principal{Subject: "rep-1", Role: Rep}).OwnerScope(); s != "rep-1" {
		t.Errorf("rep scope %q", s)
	}
	if s := (Principal{Subject: "boss", Role: Leader}).OwnerScope(); s != "" {
		t.Errorf("leader scope %q", s)
	}
}

func TestNewVerifierValidates(t *testing.T) {
	if _, err := NewVerifier(Config{}); err == nil {
		t.Error("no key accepted")
	}
	if _, err := NewVerifier(Config{Secret: []byte("short")}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := Issue(testSecret, "u", Role("x"), time.Hour, t0); err == nil {
		t.Error("Issue accepted unknown role")
	}
}
