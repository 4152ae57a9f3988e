package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZipBootstrapIsDeterministic(t *testing.T) {
	bin := bytes.Repeat([]byte("\x7fELF pretend binary "), 1000)
	first, err := zipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	// A later zip of the same binary, even seconds apart, must be identical:
	// that is what lets the deploy skip an unchanged function.
	time.Sleep(1100 * time.Millisecond)
	second, err := zipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("two zips of the same binary differ")
	}
	if codeSHA256(first) != codeSHA256(second) {
		t.Fatal("CodeSha256 of identical zips differs")
	}
	other, err := zipBootstrap(append(bin, '!'))
	if err != nil {
		t.Fatal(err)
	}
	if codeSHA256(first) == codeSHA256(other) {
		t.Fatal("different binaries gave the same CodeSha256")
	}
}

func TestZipBootstrapLayout(t *testing.T) {
	bin := []byte("binary")
	data, err := zipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("zip has %d entries, want exactly bootstrap", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry name %q, want bootstrap", f.Name)
	}
	if got := f.Mode().Perm(); got != 0o755 {
		t.Errorf("entry mode %v, want 0755 (Lambda must be able to exec it)", got)
	}
	if !f.Mode().IsRegular() {
		t.Errorf("entry mode %v is not a regular file", f.Mode())
	}
	if !f.Modified.Equal(zipEpoch) {
		t.Errorf("entry modified %v, want the fixed %v", f.Modified, zipEpoch)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bin) {
		t.Errorf("entry content %q, want %q", got, bin)
	}
}

func TestCodeSHA256MatchesLambdaFormat(t *testing.T) {
	data := []byte("zip bytes")
	sum := sha256.Sum256(data)
	want := base64.StdEncoding.EncodeToString(sum[:])
	if got := codeSHA256(data); got != want {
		t.Fatalf("codeSHA256 = %q, want base64 of the SHA-256 %q", got, want)
	}
}

func TestWriteIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fn.zip")
	steps := []struct {
		data []byte
		want string
	}{
		{[]byte("one"), statusCreated},
		{[]byte("one"), statusUnchanged},
		{[]byte("two"), statusUpdated},
		{[]byte("two"), statusUnchanged},
	}
	for i, s := range steps {
		got, err := writeIfChanged(path, s.data)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != s.want {
			t.Errorf("step %d: status %q, want %q", i, got, s.want)
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, s.data) {
			t.Errorf("step %d: file holds %q, want %q", i, onDisk, s.data)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only fn.zip (temporary files left behind?)", len(entries))
	}
}
