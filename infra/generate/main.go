// Command generate writes the files derived from the deployment model
// (shared/deployment): infra/deployment.json, which Terraform reads. Run it
// after changing a manifest (`make generate`); a test fails while a
// committed file is stale.
//
//	go run ./infra/generate            # from the repository root
//	go run ./infra/generate -check     # exit 1 if a file is stale
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

func main() {
	root := flag.String("root", ".", "repository root (holds functions/ and infra/)")
	check := flag.Bool("check", false, "write nothing; exit 1 if a generated file is stale")
	flag.Parse()
	stale, err := Generate(*root, !*check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	for _, f := range stale {
		if *check {
			fmt.Fprintf(os.Stderr, "generate: %s is stale: run make generate\n", f)
		} else {
			fmt.Println("wrote", f)
		}
	}
	if *check && len(stale) > 0 {
		os.Exit(1)
	}
}

// Files returns every generated file, by path relative to root.
func Files(root string) (map[string][]byte, error) {
	set, err := manifest.Load(root)
	if err != nil {
		return nil, err
	}
	tmpl, err := deployment.Template(set)
	if err != nil {
		return nil, err
	}
	model, err := tmpl.JSON()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"infra/deployment.json": model}, nil
}

// Generate compares every generated file with what is on disk and returns
// the paths that differ; with write, it rewrites them.
func Generate(root string, write bool) ([]string, error) {
	files, err := Files(root)
	if err != nil {
		return nil, err
	}
	var stale []string
	for rel, want := range files {
		path := filepath.Join(root, filepath.FromSlash(rel))
		have, err := os.ReadFile(path)
		if err == nil && bytes.Equal(have, want) {
			continue
		}
		stale = append(stale, rel)
		if write {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				return nil, err
			}
		}
	}
	return stale, nil
}
