//go:build tools

// Package tools pins metrics-server's main package for `go mod tidy`.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
