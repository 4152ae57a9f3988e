package main

import "context"

// costSection stands in until the cost section lands (its helper deletes
// this file and adds cost.go): the report says it was not measured.
func costSection(context.Context, options) (section, error) {
	return section{ID: "cost", Title: "cost (pending)", Method: "Not written yet.", Markdown: "_skipped: section not implemented in this build_"}, nil
}
