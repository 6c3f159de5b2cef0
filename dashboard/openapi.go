package dashboard

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"
)

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemaSet derives JSON schemas from the Go response types, so the document
// cannot drift from what encoding/json writes.
type schemaSet struct{ defs map[string]any }

func (ss *schemaSet) ref(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "JSON value as stored"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := ss.ref(t.Elem())
		out := map[string]any{"nullable": true}
		if r, ok := s["$ref"]; ok {
			out["allOf"] = []any{map[string]any{"$ref": r}}
		} else {
			for k, v := range s {
				out[k] = v
			}
		}
		return out
	case reflect.Slice:
		return map[string]any{"type": "array", "items": ss.ref(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Struct:
		name := t.Name()
		if _, ok := ss.defs[name]; !ok {
			ss.defs[name] = nil // reserve: recursive types
			props := map[string]any{}
			var required []string
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				n, opts, _ := strings.Cut(tag, ",")
				if n == "" {
					n = f.Name
				}
				props[n] = ss.ref(f.Type)
				if !strings.Contains(opts, "omitempty") {
					required = append(required, n)
				}
			}
			sort.Strings(required)
			ss.defs[name] = map[string]any{"type": "object", "properties": props, "required": required}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (s *Server) buildOpenAPI() map[string]any {
	ss := &schemaSet{defs: map[string]any{}}
	errRef := ss.ref(reflect.TypeFor[ErrorBody]())
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	paths := map[string]any{}
	op := func(path, method string, o map[string]any) {
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = o
	}
	for _, rt := range s.routes {
		var params []any
		for _, p := range rt.params {
			sch := map[string]any{"type": p.typ}
			if p.format != "" {
				sch["format"] = p.format
			}
			if len(p.enum) > 0 {
				sch["enum"] = p.enum
			}
			if p.min != nil {
				sch["minimum"] = *p.min
			}
			if p.max != nil {
				sch["maximum"] = *p.max
			}
			if p.def != nil {
				sch["default"] = p.def
			}
			if p.typ == "string" && p.format == "" && len(p.enum) == 0 {
				ml := p.maxLen
				if ml == 0 {
					ml = 128
				}
				sch["maxLength"] = ml
			}
			params = append(params, map[string]any{"name": p.name, "in": p.in, "required": p.required || p.in == "path", "description": p.desc, "schema": sch})
		}
		ok := map[string]any{"description": "OK"}
		if rt.stream != nil {
			ok["content"] = map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}
		} else {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ss.ref(reflect.TypeOf(rt.response))}}
		}
		responses := map[string]any{
			"200": ok,
			"401": errResp("Missing, invalid or expired token."),
			"403": errResp("The role lacks the permission."),
			"429": errResp("Over the token's rate; see Retry-After."),
			"500": errResp("Internal error."),
		}
		if len(rt.params) > 0 {
			responses["400"] = errResp("A parameter is invalid; error.param names it.")
		}
		if strings.Contains(rt.path, "{id}") {
			responses["404"] = errResp("Not found, or not the caller's.")
		}
		if rt.id == "ackAlert" {
			responses["409"] = errResp("The alert was retracted.")
		}
		o := map[string]any{"operationId": rt.id, "summary": rt.summary, "tags": []string{rt.tag}, "responses": responses,
			"security": []any{map[string]any{"bearer": []string{}}}}
		if params != nil {
			o["parameters"] = params
		}
		op(rt.path, rt.method, o)
	}
	text := func(desc string) map[string]any {
		return map[string]any{"security": []any{}, "summary": desc, "responses": map[string]any{"200": map[string]any{"description": "OK",
			"content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}}}
	}
	op("/healthz", "GET", text("Liveness."))
	ready := text("Readiness: ClickHouse answers.")
	ready["responses"].(map[string]any)["503"] = map[string]any{"description": "ClickHouse unavailable."}
	op("/readyz", "GET", ready)
	op("/metrics", "GET", text("Prometheus metrics."))
	op("/api/v1/openapi.json", "GET", map[string]any{"security": []any{}, "summary": "This document.",
		"responses": map[string]any{"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}}})
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "crmstream dashboard API", "version": "1.0.0",
			"description": "Funnel, leads, accounts, alerts, models and pipeline health over ClickHouse. Bearer JWT; roles leader, rep, data, admin."},
		"paths": paths,
		"components": map[string]any{
			"schemas":         ss.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}
