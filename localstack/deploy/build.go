package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/shop-serverless/shop/shared/manifest"
)

// artifact is one function's deployment package.
type artifact struct {
	fn        *manifest.Function
	zipPath   string
	zip       []byte
	codeSHA   string // base64 SHA-256 of zip, the form Lambda reports as CodeSha256
	zipStatus string // created, updated or unchanged on disk
}

// zipEpoch is the modification time of every zip entry. A fixed time (not the
// build time) makes the zip a pure function of the binary, so an unchanged
// function keeps its CodeSha256 and the deploy skips its upload.
var zipEpoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// buildAll compiles every function for linux/goarch and packages it as
// <out>/<name>.zip, at most NumCPU builds at a time. The Go build cache keeps
// rebuilds of unchanged functions cheap; -trimpath and -buildvcs=false keep
// their output byte-identical.
func buildAll(ctx context.Context, root, out, goarch string, fns []*manifest.Function, p *progress) ([]*artifact, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("build dir %s: %w", out, err)
	}
	arts := make([]*artifact, len(fns))
	errs := make([]error, len(fns))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			arts[i], errs[i] = buildOne(ctx, root, out, goarch, fn)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, a := range arts {
		p.report("zip", a.fn.Name, a.zipStatus)
	}
	return arts, nil
}

func buildOne(ctx context.Context, root, out, goarch string, fn *manifest.Function) (*artifact, error) {
	bin := filepath.Join(out, fn.Name, "bootstrap")
	absBin, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", fn.Name, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build",
		"-tags", "lambda.norpc", // provided.al2023 speaks the Runtime API, not the legacy RPC
		"-trimpath", "-buildvcs=false", "-ldflags", "-s -w",
		"-o", absBin, "./"+fn.Dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s (%s): %w\n%s", fn.Name, fn.Dir, err, strings.TrimSpace(string(msg)))
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", fn.Name, err)
	}
	zipped, err := zipBootstrap(binary)
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", fn.Name, err)
	}
	zipPath := filepath.Join(out, fn.Name+".zip")
	status, err := writeIfChanged(zipPath, zipped)
	if err != nil {
		return nil, fmt.Errorf("zip %s: %w", fn.Name, err)
	}
	return &artifact{fn: fn, zipPath: zipPath, zip: zipped, codeSHA: codeSHA256(zipped), zipStatus: status}, nil
}

// zipBootstrap packages a binary as the single entry "bootstrap", executable,
// with a fixed timestamp: the same binary always yields the same bytes.
func zipBootstrap(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(0o755) // Lambda execs bootstrap; without the bit it fails with permission denied
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(binary); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// codeSHA256 is what Lambda reports as CodeSha256: base64 of the SHA-256 of
// the deployment package.
func codeSHA256(zipped []byte) string {
	sum := sha256.Sum256(zipped)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// writeIfChanged writes data to path unless the file already holds exactly
// that, so an unchanged zip keeps its mtime (make and Terraform notice
// nothing). The write goes through a temporary file and a rename, so a
// reader never sees half a zip.
func writeIfChanged(path string, data []byte) (string, error) {
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, data):
		return statusUnchanged, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	status := statusUpdated
	if err != nil {
		status = statusCreated
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return status, os.Rename(tmp.Name(), path)
}
