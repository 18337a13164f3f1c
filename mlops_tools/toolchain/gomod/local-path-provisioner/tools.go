//go:build tools

// Package tools pins the provisioner's main package for `go mod tidy`.
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
)
