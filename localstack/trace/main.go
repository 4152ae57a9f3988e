// Command trace prints one order's journey through the local stack from
// the segments the trace collector stored (localstack/xray): every trace
// with a span annotated orderId=<id> (the order's placement, a later
// cancel...), each as an indented tree of its spans in start order, with
// offset, duration, kind and outcome, then as a Mermaid sequence diagram.
//
//	make trace ORDER=<id>
//	go run ./localstack/trace -order <id> [-file .local/traces.jsonl]
//
// On AWS the same journey is X-Ray's trace map and timeline for the filter
// expression annotation.orderId = "<id>".
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "trace:", err)
		os.Exit(1)
	}
}

// defaultFile is the traces file of the emulator on $GATEWAY_PORT, as
// localstack/ministack.sh names it, relative to the repository root (where
// make runs).
func defaultFile(getenv func(string) string) string {
	port := getenv("GATEWAY_PORT")
	if port == "" || port == "4566" {
		return ".local/traces.jsonl"
	}
	return ".local/traces-" + port + ".jsonl"
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	order := fs.String("order", "", "the order's id (required)")
	file := fs.String("file", defaultFile(getenv), "the trace collector's file (default from $GATEWAY_PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *order == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("usage: trace -order <id> [-file <traces.jsonl>]")
	}
	f, err := os.Open(*file)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: is the local stack running (localstack/ministack.sh start runs the trace collector)?", *file)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	docs, skipped, err := readDocuments(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "trace: skipped %d line(s) of %s that are no segment document\n", skipped, *file)
	}
	traces := orderTraces(docs, *order)
	if len(traces) == 0 {
		return fmt.Errorf("no trace in %s has a span annotated orderId=%s (%d documents read)", *file, *order, len(docs))
	}
	for i, t := range traces {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeJourney(stdout, t, *order, i+1, len(traces))
		fmt.Fprintln(stdout)
		writeSequence(stdout, t)
	}
	return nil
}
