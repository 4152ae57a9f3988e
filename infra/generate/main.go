// Command generate writes the files derived from the deployment model
// (shared/deployment): infra/deployment.json, which Terraform reads, the
// Knative manifests in infra/knative (knative.go), and the event catalog's
// list of types with their producers and consumers, events/README.md
// (catalog.go). Run it
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
	"slices"

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
	files, err := knativeFiles(set)
	if err != nil {
		return nil, err
	}
	files["infra/deployment.json"] = model
	if files[CatalogReadme], err = catalogReadme(set); err != nil {
		return nil, err
	}
	if files[OpenAPIFile], err = openAPIDocument(set); err != nil {
		return nil, err
	}
	return files, nil
}

// Generate compares every generated file with what is on disk and returns
// the paths that differ; with write, it rewrites them.
func Generate(root string, write bool) ([]string, error) {
	files, err := Files(root)
	if err != nil {
		return nil, err
	}
	var stale []string
	// A manifest in KnativeDir that the model no longer makes (a removed
	// function) is stale too: writing removes it.
	orphans, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(KnativeDir), "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, path := range orphans {
		rel := KnativeDir + "/" + filepath.Base(path)
		if _, ok := files[rel]; ok {
			continue
		}
		stale = append(stale, rel)
		if write {
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
	}
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
	slices.Sort(stale)
	return stale, nil
}
