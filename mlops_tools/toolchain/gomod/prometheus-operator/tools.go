//go:build tools

// Package tools pins the operator's main package for `go mod tidy`.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
)
