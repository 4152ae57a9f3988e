// Package apicall sends one request to the shop's HTTP API, as the
// programs under tests/ that drive a running stack (tests/chaos,
// tests/bench) do.
package apicall

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Response is an answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends method path (under base) with client; body nil or a value sent
// as JSON; headers in name, value pairs.
func Do(ctx context.Context, client *http.Client, base, method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}
