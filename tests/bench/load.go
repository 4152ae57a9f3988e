package main

import "context"

func loadSection(ctx context.Context, o options) (section, error) {
	return section{ID: "load", Title: "Load", Method: "not built yet"}, nil
}
