package collector

import (
	"bytes"
	"strings"
)

// Format is the framing of a request body.
type Format uint8

// Body framings. Detect picks one from the content type and the first byte.
const (
	Array  Format = iota + 1 // one JSON array of events
	NDJSON                   // one event per line; blank lines are skipped
)

// Detect returns the framing of body: NDJSON when the content type says so,
// else Array when the first non-blank byte is '[', else NDJSON (a single
// object, or NDJSON sent as application/json).
func Detect(contentType string, body []byte) Format {
	if isNDJSON(contentType) {
		return NDJSON
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) > 0 && b[0] == '[' {
		return Array
	}
	return NDJSON
}

func isNDJSON(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return true
	}
	return false
}

// Split calls fn with each item of body, in order, and returns the number of
// items. Items are sub-slices of body: fn must not keep them past the call
// unless it copies them. Split stops early, returning the count so far and
// false, when fn returns false.
//
// Split only frames; it does not validate. For Array it cuts the top-level
// elements at commas outside strings and brackets, so a malformed element
// (truncated JSON, a bare number, garbage) is handed to fn like any other and
// rejected by event.Parse with its own reason, while its neighbours still go
// through. An empty element ("[a,,b]") is an item of length 0. Anything after
// the closing bracket is one more item. For NDJSON each line is an item;
// blank lines are not items.
//
// Split never panics and does not allocate.
func Split(body []byte, f Format, fn func(item []byte) bool) (n int, complete bool) {
	if f == NDJSON {
		return splitLines(body, fn)
	}
	return splitArray(body, fn)
}

func splitLines(body []byte, fn func([]byte) bool) (int, bool) {
	n := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n++
		if !fn(line) {
			return n, false
		}
	}
	return n, true
}

func splitArray(body []byte, fn func([]byte) bool) (int, bool) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return 0, true
	}
	if b[0] != '[' {
		// Not an array after all: the whole body is one (bad) item.
		return 1, fn(b)
	}
	n := 0
	emit := func(item []byte) bool {
		n++
		return fn(bytes.TrimSpace(item))
	}
	var (
		depth    int
		inString bool
		escaped  bool
		start    = 1
		closed   = -1
		sawValue bool // a non-blank byte since start: tells "[]" from "[,]"
	)
loop:
	for i := 1; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ']':
			if depth > 0 {
				depth--
				break
			}
			closed = i
			break loop
		case ',':
			if depth == 0 {
				if !emit(b[start:i]) {
					return n, false
				}
				start, sawValue = i+1, false
				continue
			}
		}
		sawValue = true
	}
	if closed < 0 {
		// Truncated: the rest is one last item, which Parse will reject.
		if sawValue || n > 0 {
			if !emit(b[start:]) {
				return n, false
			}
		}
		return n, true
	}
	if sawValue || n > 0 {
		if !emit(b[start:closed]) {
			return n, false
		}
	}
	if rest := bytes.TrimSpace(b[closed+1:]); len(rest) > 0 {
		if !emit(rest) {
			return n, false
		}
	}
	return n, true
}
