package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// section is one part of the report: a heading, how it was measured, its
// tables, the data report.json keeps, and the budgets the issue sets for it.
type section struct {
	ID       string // "coldstart", "warm", "cost", "load"
	Title    string
	Method   string // how it was measured, in a paragraph
	Markdown string // the table(s)
	Data     any    // what goes into report.json
	Budgets  []budget
}

// budget is one limit the issue sets and what the run measured against it.
// A budget that could not be measured (no stack) has Measured "" and Held
// false, and says why in WhyNot: the summary calls it NOT MEASURED.
type budget struct {
	Name     string `json:"name"`
	Limit    string `json:"limit"`
	Measured string `json:"measured"`
	Held     bool   `json:"held"`
	WhyNot   string `json:"whyNot,omitempty"`
}

// status is how the summary names a budget's outcome.
func (b budget) status() string {
	switch {
	case b.Measured == "":
		return "NOT MEASURED"
	case b.Held:
		return "held"
	default:
		return "MISSED"
	}
}

// machine describes where the figures were taken: they mean little without
// it, the load above all (the machine is shared).
type machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	CPU        string `json:"cpu,omitempty"`
	GoVersion  string `json:"goVersion"`
	LoadBefore string `json:"loadBefore,omitempty"` // /proc/loadavg when the run began
	LoadAfter  string `json:"loadAfter,omitempty"`  // and when it ended
}

func describeMachine() machine {
	m := machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages, or "" off Linux.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// report is the whole run, as report.json holds it.
type report struct {
	Generated time.Time
	Machine   machine
	Sections  []section
	Errors    map[string]string // section id -> the error that stopped it
}

func (r *report) MarshalJSON() ([]byte, error) {
	sections := map[string]any{}
	for _, s := range r.Sections {
		sections[s.ID] = map[string]any{"title": s.Title, "method": s.Method, "budgets": s.Budgets, "data": s.Data}
	}
	for id, msg := range r.Errors {
		sections[id] = map[string]any{"error": msg}
	}
	return json.Marshal(map[string]any{
		"generated": r.Generated.UTC().Format(time.RFC3339),
		"machine":   r.Machine,
		"sections":  sections,
	})
}

// budgets lists every budget of every section, in section order.
func (r *report) budgets() []budget {
	var all []budget
	for _, s := range r.Sections {
		all = append(all, s.Budgets...)
	}
	return all
}

// markdown renders report.md: the machine, the budgets at a glance, then
// each section.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench\n\nGenerated %s on %s/%s, %d CPUs", r.Generated.UTC().Format(time.RFC3339), r.Machine.GOOS, r.Machine.GOARCH, r.Machine.CPUs)
	if r.Machine.CPU != "" {
		fmt.Fprintf(&b, " (%s)", r.Machine.CPU)
	}
	fmt.Fprintf(&b, ", %s; load average %s at the start, %s at the end.\n\n", r.Machine.GoVersion, orDash(r.Machine.LoadBefore), orDash(r.Machine.LoadAfter))
	b.WriteString("## Budgets\n\n")
	b.WriteString(budgetTable(r.budgets()))
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s\n", s.Title, strings.TrimSpace(s.Method), strings.TrimSpace(s.Markdown))
	}
	for _, id := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "\n## %s: FAILED\n\n```\n%s\n```\n", id, r.Errors[id])
	}
	return b.String()
}

func budgetTable(bs []budget) string {
	var b strings.Builder
	b.WriteString("| budget | limit | measured | status | why not |\n|---|---|---|---|---|\n")
	for _, x := range bs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", x.Name, x.Limit, orDash(x.Measured), x.status(), cell(x.WhyNot))
	}
	return b.String()
}

// summary is what make bench prints at the end: one line per budget.
func (r *report) summary() string {
	var b strings.Builder
	held, missed, unmeasured := 0, 0, 0
	for _, x := range r.budgets() {
		switch x.status() {
		case "held":
			held++
		case "MISSED":
			missed++
		default:
			unmeasured++
		}
		fmt.Fprintf(&b, "  %-12s %s: %s (limit %s)", x.status(), x.Name, orDash(x.Measured), x.Limit)
		if x.WhyNot != "" {
			fmt.Fprintf(&b, ": %s", x.WhyNot)
		}
		b.WriteByte('\n')
	}
	for _, id := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "  FAILED       section %s: %s\n", id, firstLine(r.Errors[id]))
	}
	fmt.Fprintf(&b, "budgets: %d held, %d missed, %d not measured; sections failed: %d\n", held, missed, unmeasured, len(r.Errors))
	return b.String()
}

// write puts report.md and report.json into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.markdown()), 0o644)
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// markdownTable renders a header and rows as a Markdown table; sections
// use it so every table looks the same.
func markdownTable(header []string, rows [][]string) string {
	var b bytes.Buffer
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteByte('\n')
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}
