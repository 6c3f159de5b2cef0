package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevSecret is the HS256 secret of the local development stack. dashboard-api
// and "crmctl token" default to it; a deployment must configure its own.
const DevSecret = "crmstream-local-dev-secret-do-not-use-in-production"

// Default issuer and audience written by Issue and required by Verify.
const (
	DefaultIssuer   = "crmstream"
	DefaultAudience = "crmstream-dashboard"
)

// ErrUnauthenticated is returned by Verify for every token that must not be
// accepted; the wrapped detail is for logs, not for the caller.
var ErrUnauthenticated = errors.New("unauthenticated")

// Role is what a caller is allowed to see.
type Role string

// Roles.
const (
	Leader Role = "leader"
	Rep    Role = "rep"
	Data   Role = "data"
	Admin  Role = "admin"
)

// Roles lists every valid role.
var Roles = []Role{Leader, Rep, Data, Admin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	switch r {
	case Leader, Rep, Data, Admin:
		return true
	}
	return false
}

// Permission is one kind of access an endpoint needs.
type Permission uint8

// Permissions.
const (
	ReadFunnel Permission = iota + 1
	ReadLeads
	ReadAccounts
	ReadAlerts
	AckAlerts
	ReadModels
	ReadPipeline
	ReadAudit
)

var grants = map[Role][]Permission{
	Leader: {ReadFunnel, ReadLeads, ReadAccounts, ReadAlerts, AckAlerts, ReadModels, ReadPipeline},
	Rep:    {ReadFunnel, ReadLeads, ReadAccounts, ReadAlerts, AckAlerts},
	Data:   {ReadFunnel, ReadLeads, ReadAccounts, ReadAlerts, ReadModels, ReadPipeline},
	Admin:  {ReadFunnel, ReadLeads, ReadAccounts, ReadAlerts, AckAlerts, ReadModels, ReadPipeline, ReadAudit},
}

// Principal is an authenticated caller.
type Principal struct {
	Subject   string // "sub": the user; for reps, their owner_id
	Role      Role
	TokenID   string    // "jti", may be empty
	ExpiresAt time.Time // "exp"
}

// Can reports whether the principal's role holds perm.
func (p Principal) Can(perm Permission) bool {
	for _, g := range grants[p.Role] {
		if g == perm {
			return true
		}
	}
	return false
}

// OwnerScope is the owner_id every read of p must be narrowed to: the subject
// for reps, "" (all owners) for other roles.
func (p Principal) OwnerScope() string {
	if p.Role == Rep {
		return p.Subject
	}
	return ""
}

// Claims are the JWT claims the dashboard reads.
type Claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Config configures a Verifier.
type Config struct {
	Secret     []byte             // HS256 shared secret; empty disables HS256
	PublicKeys []crypto.PublicKey // *rsa.PublicKey (RS256) or *ecdsa.PublicKey (ES256); optional
	Issuer     string             // required "iss"; default DefaultIssuer
	Audience   string             // required "aud"; default DefaultAudience
	Leeway     time.Duration      // clock skew allowed on exp/nbf/iat; default 30s
	Now        func() time.Time   // clock; default time.Now
}

// Verifier checks bearer tokens. Safe for concurrent use.
type Verifier struct {
	parser  *jwt.Parser
	secret  []byte
	rsaKeys jwt.VerificationKeySet
	ecKeys  jwt.VerificationKeySet
}

// NewVerifier returns a Verifier for cfg; it needs a secret or a public key.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 && len(cfg.PublicKeys) == 0 {
		return nil, errors.New("auth: a secret or a public key is required")
	}
	if len(cfg.Secret) > 0 && len(cfg.Secret) < 16 {
		return nil, errors.New("auth: secret shorter than 16 bytes")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{secret: cfg.Secret}
	var methods []string
	if len(cfg.Secret) > 0 {
		methods = append(methods, "HS256")
	}
	for i, k := range cfg.PublicKeys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			v.rsaKeys.Keys = append(v.rsaKeys.Keys, k)
		case *ecdsa.PublicKey:
			v.ecKeys.Keys = append(v.ecKeys.Keys, k)
		default:
			return nil, fmt.Errorf("auth: public key %d: unsupported type %T", i, k)
		}
	}
	if len(v.rsaKeys.Keys) > 0 {
		methods = append(methods, "RS256")
	}
	if len(v.ecKeys.Keys) > 0 {
		methods = append(methods, "ES256")
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods), // refuses "none" and algorithm confusion
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return v, nil
}

func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		return v.secret, nil
	case *jwt.SigningMethodRSA:
		return v.rsaKeys, nil
	case *jwt.SigningMethodECDSA:
		return v.ecKeys, nil
	}
	return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
}

// Verify checks a raw token (without the "Bearer " prefix) and returns its
// principal. Every refusal wraps ErrUnauthenticated.
func (v *Verifier) Verify(raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, fmt.Errorf("%w: missing token", ErrUnauthenticated)
	}
	var c Claims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.key); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	role := Role(c.Role)
	if !role.Valid() {
		return Principal{}, fmt.Errorf("%w: unknown role %q", ErrUnauthenticated, c.Role)
	}
	if c.Subject == "" {
		return Principal{}, fmt.Errorf("%w: empty subject", ErrUnauthenticated)
	}
	p := Principal{Subject: c.Subject, Role: role, TokenID: c.ID}
	if c.ExpiresAt != nil {
		p.ExpiresAt = c.ExpiresAt.Time
	}
	return p, nil
}

// Issue mints an HS256 token for subject and role, valid for ttl from now,
// with the default issuer and audience.
func Issue(secret []byte, subject string, role Role, ttl time.Duration, now time.Time) (string, error) {
	if !role.Valid() {
		return "", fmt.Errorf("auth: unknown role %q", role)
	}
	if subject == "" {
		return "", errors.New("auth: empty subject")
	}
	if len(secret) < 16 {
		return "", errors.New("auth: secret shorter than 16 bytes")
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	c := Claims{
		Role: string(role),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Issuer:    DefaultIssuer,
			Audience:  jwt.ClaimStrings{DefaultAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        hex.EncodeToString(id[:]),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}
