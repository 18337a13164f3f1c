//go:build tools

// Package tools pins CoreDNS's main package for `go mod tidy`.
package tools

import (
	_ "github.com/coredns/coredns"
)
