package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/crmstream/crmstream/dashboard/auth"
)

func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.do("GET", "/api/v1/openapi.json", "")
	if r.status != 200 {
		t.Fatalf("openapi.json = %d", r.status)
	}
	var doc map[string]any
	r.json(t, &doc)
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	return doc
}

// Every route of the router is documented and every documented operation is
// routed.
func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newEnv(t, false, nil)
	doc := openAPIDoc(t, e)
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	err := chi.Walk(e.srv.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/*" || route == "/api/*" { // the static UI and the JSON 404
			return nil
		}
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, phantom []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			phantom = append(phantom, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(phantom)
	if len(missing) > 0 || len(phantom) > 0 {
		t.Fatalf("undocumented routes %v; documented but not routed %v", missing, phantom)
	}
	if len(routed) < 15 {
		t.Fatalf("only %d routes walked", len(routed))
	}
}

// Live responses of every JSON endpoint validate against their documented
// schema, and so do error bodies.
func TestOpenAPIMatchesResponses(t *testing.T) {
	e := newEnv(t, true, nil)
	doc := openAPIDoc(t, e)
	paths := concretePaths(e.now)
	admin := token(t, auth.Admin, "root")
	e.do("GET", "/api/v1/me", admin) // something in the audit log
	time.Sleep(200 * time.Millisecond)
	for _, rt := range e.srv.routes {
		if rt.stream != nil {
			continue
		}
		op := doc["paths"].(map[string]any)[rt.path].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
		r := e.do(rt.method, paths[rt.id], admin)
		if r.status != 200 {
			t.Errorf("%s: %d %s", rt.id, r.status, r.body)
			continue
		}
		checkBody(t, doc, op, "200", rt.id, r.body)
		if len(rt.params) > 0 {
			bad := e.do(rt.method, strings.Split(paths[rt.id], "?")[0]+"?bogus=1", admin)
			if bad.status != 400 {
				t.Errorf("%s with unknown parameter = %d", rt.id, bad.status)
			}
			checkBody(t, doc, op, "400", rt.id, bad.body)
		}
		checkBody(t, doc, op, "401", rt.id, e.do(rt.method, paths[rt.id], "").body)
	}
}

func checkBody(t *testing.T, doc, op map[string]any, status, id string, body []byte) {
	t.Helper()
	resp, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		t.Errorf("%s: status %s not documented", id, status)
		return
	}
	schema := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s: not JSON: %v", id, status, err)
		return
	}
	if errs := validate(doc, schema, v, "$"); len(errs) > 0 {
		t.Errorf("%s %s: response does not match its schema:\n  %s", id, status, strings.Join(errs[:min(len(errs), 10)], "\n  "))
	}
}

// validate checks v against the subset of JSON Schema the document uses:
// $ref, allOf, nullable, type, properties (no others allowed), required,
// items, enum, format date-time.
func validate(doc, s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		def, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return []string{at + ": unresolved " + ref}
		}
		return validate(doc, def, v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return []string{at + ": null where not nullable"}
	}
	if all, ok := s["allOf"].([]any); ok {
		var errs []string
		for _, sub := range all {
			errs = append(errs, validate(doc, sub.(map[string]any), v, at)...)
		}
		return errs
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return []string{fmt.Sprintf("%s: %v not in enum", at, v)}
		}
	}
	switch s["type"] {
	case nil:
		return nil // any JSON value
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{at + ": want object"}
		}
		var errs []string
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := m[r]; !ok {
				errs = append(errs, at+": missing required "+r)
			}
		}
		for k, val := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if props != nil {
					errs = append(errs, at+": undocumented property "+k)
				}
				continue
			}
			errs = append(errs, validate(doc, ps, val, at+"."+k)...)
		}
		return errs
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{at + ": want array"}
		}
		var errs []string
		for i, x := range a {
			errs = append(errs, validate(doc, s["items"].(map[string]any), x, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return errs
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{at + ": want string"}
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return []string{at + ": not a date-time: " + str}
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return []string{fmt.Sprintf("%s: want integer, got %v", at, v)}
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return []string{at + ": want number"}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{at + ": want boolean"}
		}
	}
	return nil
}

func asStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, s := range x {
			out = append(out, s.(string))
		}
	case []string:
		out = x
	}
	return out
}

// The validator itself must reject what it should, or the tests above prove
// nothing.
func TestValidatorRejects(t *testing.T) {
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"X": map[string]any{"type": "object", "required": []any{"a"}, "properties": map[string]any{
			"a": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
			"t": map[string]any{"type": "string", "format": "date-time"},
		}},
	}}}
	ref := map[string]any{"$ref": "#/components/schemas/X"}
	for _, bad := range []string{`{}`, `{"a":null}`, `{"a":[1.5]}`, `{"a":[],"zz":1}`, `{"a":[],"t":"yesterday"}`, `[]`} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if len(validate(doc, ref, v, "$")) == 0 {
			t.Errorf("%s accepted", bad)
		}
	}
	var ok any
	_ = json.Unmarshal([]byte(`{"a":[1,2],"t":"2026-12-03T09:00:00Z"}`), &ok)
	if errs := validate(doc, ref, ok, "$"); len(errs) > 0 {
		t.Errorf("valid rejected: %v", errs)
	}
}
