package pipeline

import _ "embed"

// Template is the commented llmtune.yaml that `llmtune init` writes; a test
// checks that it parses to exactly Default().
//
//go:embed llmtune.yaml
var Template []byte
