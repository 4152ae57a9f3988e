// Temporary stand-in for helper COLD's report.go and main.go (contract-12):
// deleted when wp-COLD is merged.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

type section struct {
	ID       string
	Title    string
	Method   string
	Markdown string
	Data     any
	Budgets  []budget
}

type budget struct {
	Name     string
	Limit    string
	Measured string
	Held     bool
	WhyNot   string
}

type options struct {
	Out string
}

func main() {
	var o options
	flag.StringVar(&o.Out, "out", "build/bench", "")
	flag.Parse()
	ctx := context.Background()
	var secs []section
	for _, f := range []func(context.Context, options) (section, error){costSection, loadSection} {
		s, err := f(ctx, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		secs = append(secs, s)
		fmt.Printf("## %s\n\n%s\n\n%s\n", s.Title, s.Method, s.Markdown)
		for _, b := range s.Budgets {
			fmt.Printf("budget %s: limit %s measured %s held %v %s\n", b.Name, b.Limit, b.Measured, b.Held, b.WhyNot)
		}
	}
	_ = os.MkdirAll(o.Out, 0o755)
	b, _ := json.MarshalIndent(secs, "", "  ")
	_ = os.WriteFile(filepath.Join(o.Out, "stub.json"), b, 0o644)
}
