package simulator

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Ground-truth file names inside a truth directory, one NDJSON file per
// record type.
const (
	LeadsFile        = "leads.ndjson"
	AccountsFile     = "accounts.ndjson"
	ChurnRiskFile    = "churn_risk.ndjson"
	AbandonmentsFile = "abandonments.ndjson"
	InactivityFile   = "inactivity.ndjson"
)

// TruthWriter writes the ground truth as NDJSON files in a directory. Write
// errors are kept and returned by Close.
type TruthWriter struct {
	files [5]*os.File
	bufs  [5]*bufio.Writer
	encs  [5]*json.Encoder
	err   error
}

var truthFiles = [5]string{LeadsFile, AccountsFile, ChurnRiskFile, AbandonmentsFile, InactivityFile}

// NewTruthWriter creates dir (if needed) and the five files in it.
func NewTruthWriter(dir string) (*TruthWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("truth dir: %w", err)
	}
	w := &TruthWriter{}
	for i, name := range truthFiles {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("truth file: %w", err)
		}
		w.files[i] = f
		w.bufs[i] = bufio.NewWriterSize(f, 64<<10)
		w.encs[i] = json.NewEncoder(w.bufs[i])
	}
	return w, nil
}

func (w *TruthWriter) write(i int, v any) {
	if w.err == nil {
		if err := w.encs[i].Encode(v); err != nil {
			w.err = fmt.Errorf("write %s: %w", truthFiles[i], err)
		}
	}
}

func (w *TruthWriter) Lead(t LeadTruth)          { w.write(0, t) }
func (w *TruthWriter) Account(t AccountTruth)    { w.write(1, t) }
func (w *TruthWriter) ChurnRisk(t ChurnRisk)     { w.write(2, t) }
func (w *TruthWriter) Abandonment(t Abandonment) { w.write(3, t) }
func (w *TruthWriter) Inactivity(t Inactivity)   { w.write(4, t) }

// Close flushes and closes the files; it returns the first error seen.
func (w *TruthWriter) Close() error {
	err := w.err
	for i, f := range w.files {
		if f == nil {
			continue
		}
		if w.bufs[i] != nil {
			err = errors.Join(err, w.bufs[i].Flush())
		}
		err = errors.Join(err, f.Close())
		w.files[i] = nil
	}
	return err
}

// ReadTruth loads a truth directory written by TruthWriter.
func ReadTruth(dir string) (*TruthSet, error) {
	s := &TruthSet{}
	read := func(name string, each func(dec *json.Decoder) error) error {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("read truth: %w", err)
		}
		defer f.Close()
		dec := json.NewDecoder(bufio.NewReader(f))
		for {
			if err := each(dec); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
	}
	err := errors.Join(
		read(LeadsFile, func(d *json.Decoder) error {
			var v LeadTruth
			err := d.Decode(&v)
			if err == nil {
				s.Lead(v)
			}
			return err
		}),
		read(AccountsFile, func(d *json.Decoder) error {
			var v AccountTruth
			err := d.Decode(&v)
			if err == nil {
				s.Account(v)
			}
			return err
		}),
		read(ChurnRiskFile, func(d *json.Decoder) error {
			var v ChurnRisk
			err := d.Decode(&v)
			if err == nil {
				s.ChurnRisk(v)
			}
			return err
		}),
		read(AbandonmentsFile, func(d *json.Decoder) error {
			var v Abandonment
			err := d.Decode(&v)
			if err == nil {
				s.Abandonment(v)
			}
			return err
		}),
		read(InactivityFile, func(d *json.Decoder) error {
			var v Inactivity
			err := d.Decode(&v)
			if err == nil {
				s.Inactivity(v)
			}
			return err
		}),
	)
	if err != nil {
		return nil, err
	}
	return s, nil
}
