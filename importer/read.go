package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/event"
)

// Item is one accepted row: the validated event and where it came from.
type Item struct {
	File  string
	Line  int // 1-based line (NDJSON) or record line (CSV, the header is line 1)
	Event event.Event
}

// Reject is one row that did not become an event.
type Reject struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

func (r Reject) String() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// Batch is what a reader produced from one source.
type Batch struct {
	Items   []Item
	Rejects []Reject
}

func (b *Batch) reject(file string, line int, format string, args ...any) {
	b.Rejects = append(b.Rejects, Reject{File: file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// maxLine bounds one NDJSON line: an event is at most event.MaxEventBytes,
// and a longer line is rejected, not read into memory whole.
const maxLine = event.MaxEventBytes + 1

// ReadNDJSON reads one canonical event per line (blank lines skipped) and
// validates each with event.Parse, the collector's own parser. An error is
// returned only when r fails; bad lines are Rejects.
func ReadNDJSON(r io.Reader, file string) (Batch, error) {
	var b Batch
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, tooLong, err := readLine(br)
		if len(bytes.TrimSpace(raw)) > 0 || tooLong {
			switch {
			case tooLong:
				b.reject(file, line, "line longer than %d bytes", event.MaxEventBytes)
			default:
				if e, perr := event.Parse(raw); perr != nil {
					b.reject(file, line, "%v", perr)
				} else {
					b.Items = append(b.Items, Item{File: file, Line: line, Event: e})
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, fmt.Errorf("read %s line %d: %w", file, line, err)
		}
	}
}

// readLine returns the next line without its newline. A line over maxLine
// is consumed and reported as tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(buf)+len(chunk) > maxLine {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if err != nil || !isPrefix {
			if tooLong {
				buf = nil
			}
			return buf, tooLong, err
		}
	}
}

// Canonical CSV columns besides contact.* and properties.*.
var csvColumns = map[string]bool{
	"event_id": true, "type": true, "occurred_at": true, "lead_id": true, "account_id": true,
	"owner_id": true, "session_id": true, "source": true,
}

var contactColumns = map[string]bool{"email": true, "phone": true, "name": true, "company": true, "country": true, "title": true}

// ReadCSV reads rows under a header of canonical column names: event_id,
// type, occurred_at, lead_id, account_id, owner_id, session_id, source,
// contact.<field> and properties.<key>. Property cells become numbers when
// they parse as finite numbers, bools for true/false, strings otherwise;
// empty cells are left out. Each row is built as canonical JSON and
// validated by event.Parse. An unknown column fails the whole file: a typo
// in the header would otherwise lose a column silently.
func ReadCSV(r io.Reader, file string) (Batch, error) {
	var b Batch
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // a short row is a Reject, not a failed file
	header, err := cr.Read()
	if err != nil {
		return b, fmt.Errorf("%s: read header: %w", file, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case csvColumns[h]:
		case strings.HasPrefix(h, "contact.") && contactColumns[strings.TrimPrefix(h, "contact.")]:
		case strings.HasPrefix(h, "properties.") && len(h) > len("properties."):
		default:
			return b, fmt.Errorf("%s: column %d %q is not a canonical column (event_id, type, occurred_at, lead_id, account_id, owner_id, session_id, source, contact.<email|phone|name|company|country|title>, properties.<key>)", file, i+1, h)
		}
		cols[i] = h
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				b.reject(file, pe.Line, "malformed CSV: %v", pe.Err)
				continue
			}
			return b, fmt.Errorf("read %s: %w", file, err)
		}
		if len(rec) != len(cols) {
			b.reject(file, line, "has %d fields, the header has %d", len(rec), len(cols))
			continue
		}
		e, perr := event.Parse(rowJSON(cols, rec))
		if perr != nil {
			b.reject(file, line, "%v", perr)
			continue
		}
		b.Items = append(b.Items, Item{File: file, Line: line, Event: e})
	}
}

// rowJSON builds the canonical JSON object of one CSV row.
func rowJSON(cols, rec []string) []byte {
	top := map[string]any{}
	contact := map[string]string{}
	props := map[string]any{}
	for i, c := range cols {
		v := rec[i]
		if v == "" {
			continue
		}
		switch {
		case strings.HasPrefix(c, "contact."):
			contact[strings.TrimPrefix(c, "contact.")] = v
		case strings.HasPrefix(c, "properties."):
			props[strings.TrimPrefix(c, "properties.")] = cell(v)
		default:
			top[c] = v
		}
	}
	if len(contact) > 0 {
		top["contact"] = contact
	}
	if len(props) > 0 {
		top["properties"] = props
	}
	out, _ := json.Marshal(top) // strings, finite floats and bools always marshal
	return out
}

func cell(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	// Leading zeros ("007", zip codes) stay strings: they are identifiers.
	if len(v) > 1 && v[0] == '0' && v[1] != '.' {
		return v
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return v
}

// ReadFile reads one file by its extension: .csv as CSV, anything else
// (.ndjson, .jsonl, .json) as NDJSON; "-" reads NDJSON from stdin.
func ReadFile(path string, stdin io.Reader) (Batch, error) {
	if path == "-" {
		return ReadNDJSON(stdin, "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return Batch{}, err
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ReadCSV(f, path)
	}
	return ReadNDJSON(f, path)
}
