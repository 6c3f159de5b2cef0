// Package auth verifies the bearer tokens of the dashboard API and says what
// each caller may see.
//
// # Tokens
//
// A token is a JWT (RFC 7519) signed with HS256 and a shared secret, or with
// RS256/ES256 and a private key whose public half the server is configured
// with. Its claims are the standard ones plus "role":
//
//	{"sub":"rep-7","role":"rep","iss":"crmstream","aud":["crmstream-dashboard"],
//	 "iat":1764750000,"exp":1764753600,"jti":"…"}
//
// Verify refuses (with [ErrUnauthenticated]) a token that is missing, malformed,
// signed with another key, signed with an algorithm the server does not accept
// (including "none"), expired, not yet valid, for another issuer or audience,
// or with an unknown role. "exp" is required.
//
// # Roles
//
//   - leader: every figure of every owner, and may acknowledge alerts.
//   - rep: only leads, accounts and alerts whose owner_id is the token's "sub";
//     the funnel is narrowed to their own events. Anything else reads as not found.
//   - data: models and pipeline, plus read access to everything a leader reads.
//   - admin: everything, including the audit log.
//
// [Principal.Can] answers whether a role holds a [Permission];
// [Principal.OwnerScope] returns the owner every query of the caller must be
// narrowed to ("" for roles that see all owners).
//
// Issue mints tokens; cmd/crmctl's "token" subcommand uses it for the local
// stack, signed with [DevSecret] unless another secret is given.
package auth
