//go:build !amd64

package decode

func prefetch(*byte) {}
