package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The committed files are what the manifests make now: Terraform (and
// Knative) deploy what the local stack runs.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	stale, err := Generate(filepath.Join("..", ".."), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("stale generated files %v: run make generate and commit them", stale)
	}
}

// A hand edit of a generated file, or a manifest changed without
// regenerating, is caught; Generate then repairs it.
func TestStaleFileIsCaughtAndRewritten(t *testing.T) {
	root := copyManifests(t)
	if _, err := Generate(root, true); err != nil {
		t.Fatal(err)
	}
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for rel := range files {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.WriteFile(path, append(files[rel], ' '), 0o644); err != nil {
			t.Fatal(err)
		}
		stale, err := Generate(root, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(stale, rel) {
			t.Errorf("%s edited by hand: Generate reports %v as stale", rel, stale)
		}
		if _, err := Generate(root, true); err != nil {
			t.Fatal(err)
		}
		if stale, _ := Generate(root, false); len(stale) > 0 {
			t.Errorf("after rewriting, still stale: %v", stale)
		}
	}
}

// copyManifests copies what the generated files are made from (the
// manifests and the event catalog) into a new root.
func copyManifests(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"functions", "events"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("..", "..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
