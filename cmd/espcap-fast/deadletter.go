package main

import (
	"fmt"
	"path/filepath"

	"github.com/espcap/espcap-fast/internal/statedir"
)

// defaultDeadLetter is the dead-letter file's name in the "dead-letter"
// subdirectory of the state directory, where it goes without --dead-letter.
// It is created only when a document is rejected.
const defaultDeadLetter = "espcap-fast-dead-letter.ndjson"

// deadLetterPath returns the dead-letter file: the --dead-letter value, or
// <state dir>/dead-letter/espcap-fast-dead-letter.ndjson, whose directory
// it creates (mode 0700) so that the file can be created when needed.
func deadLetterPath(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	dir, err := statedir.Sub("dead-letter")
	if err != nil {
		return "", fmt.Errorf("dead-letter file: %w (or give --dead-letter FILE)", err)
	}
	return filepath.Join(dir, defaultDeadLetter), nil
}
