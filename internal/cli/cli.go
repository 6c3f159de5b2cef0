// Package cli gives every binary the same configuration surface: flags,
// CRM_* environment variables and an optional YAML file, in that order of
// precedence (a flag beats the environment, which beats the file, which
// beats the default); --help that lists each setting with its variable and
// default, and examples; --validate to check a configuration and exit; and
// secrets read from files.
//
// Only cmd/ uses this package: libraries take plain Config structs.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Flags is a flag set bound to environment variables and a config file.
type Flags struct {
	fs       *flag.FlagSet
	name     string
	summary  string
	examples string
	env      map[string]string // flag name → environment variable
	validate bool
	config   string
	secrets  []string
	Out      io.Writer // where --help goes; default stderr
}

// New returns the flag set of a binary. summary is one paragraph; examples
// are shown under "Examples:" in --help.
func New(name, summary, examples string) *Flags {
	f := &Flags{fs: flag.NewFlagSet(name, flag.ContinueOnError), name: name, summary: summary,
		examples: examples, env: map[string]string{}, Out: os.Stderr}
	f.fs.SetOutput(io.Discard)
	f.fs.BoolVar(&f.validate, "validate", false, "check the configuration (and reachability where cheap), print it, and exit")
	f.fs.StringVar(&f.config, "config", "", "YAML file of settings, keys named like the flags (env CRM_CONFIG)")
	f.env["config"] = "CRM_CONFIG"
	return f
}

// FlagSet exposes the underlying flag set for custom flag types.
func (f *Flags) FlagSet() *flag.FlagSet { return f.fs }

func (f *Flags) bind(name, env string) {
	if env != "" {
		f.env[name] = env
	}
}

// String defines a string setting.
func (f *Flags) String(p *string, name, env, def, usage string) {
	f.fs.StringVar(p, name, def, usage)
	f.bind(name, env)
}

// Int defines an integer setting.
func (f *Flags) Int(p *int, name, env string, def int, usage string) {
	f.fs.IntVar(p, name, def, usage)
	f.bind(name, env)
}

// Float defines a float setting.
func (f *Flags) Float(p *float64, name, env string, def float64, usage string) {
	f.fs.Float64Var(p, name, def, usage)
	f.bind(name, env)
}

// Bool defines a boolean setting.
func (f *Flags) Bool(p *bool, name, env string, def bool, usage string) {
	f.fs.BoolVar(p, name, def, usage)
	f.bind(name, env)
}

// Duration defines a duration setting ("500ms", "5m").
func (f *Flags) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, def, usage)
	f.bind(name, env)
}

// List defines a comma-separated list setting.
func (f *Flags) List(p *[]string, name, env string, def []string, usage string) {
	*p = def
	f.fs.Var((*listValue)(p), name, usage+" (comma-separated)")
	f.bind(name, env)
}

// listValue is a flag.Value over a comma-separated list; String shows the
// current items, so --validate prints them.
type listValue []string

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listValue) Set(s string) error {
	*l = SplitList(s)
	return nil
}

// Secret defines a secret setting with a companion "<name>-file" flag (and
// "<ENV>_FILE" variable) that reads it from a file, as container platforms
// mount secrets. Secrets never appear in --validate output.
func (f *Flags) Secret(p *string, name, env, usage string) {
	f.fs.StringVar(p, name, "", usage+" (secret; prefer "+name+"-file)")
	f.bind(name, env)
	f.fs.Func(name+"-file", "read "+name+" from this file", func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		*p = strings.TrimSpace(string(b))
		return nil
	})
	if env != "" {
		f.bind(name+"-file", env+"_FILE")
	}
	f.secrets = append(f.secrets, name)
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ErrHelp is returned by Parse after printing --help; mains exit 0.
var ErrHelp = flag.ErrHelp

// Parse reads the configuration: defaults, then the YAML file, then the
// environment, then the command line. getenv is os.Getenv in mains.
func (f *Flags) Parse(args []string, getenv func(string) string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.Usage()
			return ErrHelp
		}
		return fmt.Errorf("%w\n(run %s --help for the settings)", err, f.name)
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	apply := func(name, value, from string) error {
		if set[name] {
			return nil
		}
		if err := f.fs.Set(name, value); err != nil {
			return fmt.Errorf("%s %s: %w", from, name, err)
		}
		return nil
	}
	// Environment before the file so that CRM_CONFIG can name the file;
	// the file is then applied only to what neither flags nor env set.
	names := make([]string, 0, len(f.env))
	for n := range f.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if v := getenv(f.env[name]); v != "" {
			if err := apply(name, v, "environment "+f.env[name]+" for"); err != nil {
				return err
			}
			set[name] = true
		}
	}
	if f.config != "" {
		b, err := os.ReadFile(f.config)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("config file %s: %w", f.config, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if f.fs.Lookup(k) == nil {
				return fmt.Errorf("config file %s: unknown setting %q", f.config, k)
			}
			if err := apply(k, yamlString(m[k]), "config file"); err != nil {
				return err
			}
		}
	}
	return nil
}

func yamlString(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// ValidateOnly reports whether --validate was given.
func (f *Flags) ValidateOnly() bool { return f.validate }

// Usage prints the help text.
func (f *Flags) Usage() {
	w := f.Out
	fmt.Fprintf(w, "%s: %s\n\nUsage: %s [flags]\n\nSettings (flag, environment variable, default):\n", f.name, f.summary, f.name)
	f.fs.VisitAll(func(fl *flag.Flag) {
		env := ""
		if e := f.env[fl.Name]; e != "" {
			env = "  $" + e
		}
		def := ""
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && fl.DefValue != "[]" {
			def = " (default " + fl.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", fl.Name, env, fl.Usage, def)
	})
	if f.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", f.examples)
	}
}

// Settings lists the effective settings with secrets masked, for --validate
// output and start-up logs.
func (f *Flags) Settings() []string {
	secret := map[string]bool{}
	for _, s := range f.secrets {
		secret[s] = true
		secret[s+"-file"] = true
	}
	var out []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		v := fl.Value.String()
		if secret[fl.Name] && v != "" {
			v = "(set)"
		}
		out = append(out, fl.Name+"="+v)
	})
	return out
}
