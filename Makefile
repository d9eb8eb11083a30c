# llmtune build. The fast build links OpenBLAS through cgo; where the library
# is missing the build falls back to gonum's pure-Go BLAS and says so once.
GO       ?= go
BIN      ?= bin/llmtune
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/llmtune/llmtune/internal/version.Version=$(VERSION) -X github.com/llmtune/llmtune/internal/version.Commit=$(COMMIT)

# OpenBLAS is used when its shared library and cgo are both available.
HAVE_OPENBLAS := $(shell printf 'int main(void){return 0;}' | cc -x c - -lopenblas -o /dev/null >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_OPENBLAS),yes)
TAGS ?= openblas
else
TAGS ?=
$(info llmtune: OpenBLAS not found (apt-get install libopenblas-dev); building with gonum's pure-Go BLAS, about 7x slower GEMMs)
endif
GOFLAGS_ALL := -tags '$(TAGS)' -ldflags '$(LDFLAGS)'
export GOFLAGS_ALL

TEST_TIMEOUT ?= 14m

# llama.cpp for the GGUF tests, where .ci/run installed it (the tests skip without it).
export LLMTUNE_NODE_MODULES ?= $(wildcard $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/llmtune-node/node_modules)

.PHONY: all build test demo bench bench-train lint install clean fuzz sample

all: build

build:
	$(GO) build $(GOFLAGS_ALL) -o $(BIN) ./cmd/llmtune

# The whole suite; integration tests build the binary themselves with the same tags.
test: build
	LLMTUNE_BIN=$(abspath $(BIN)) $(GO) test $(GOFLAGS_ALL) -timeout $(TEST_TIMEOUT) ./...

# The whole pipeline on the embedded sample with a freshly initialised small model.
demo: build
	./scripts/demo.sh $(abspath $(BIN))

bench: build
	$(GO) test $(GOFLAGS_ALL) -run '^$$' -bench . -benchmem -timeout 60m ./...

bench-train: build
	$(GO) test $(GOFLAGS_ALL) -run '^$$' -bench 'Train' -benchtime 6x -benchmem -timeout 60m ./internal/train/ ./internal/model/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags '$(TAGS)' ./...

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/llmtune

# Regenerate testdata/sample from its generator (deterministic).
sample:
	$(GO) run ./internal/dataset/gensample -out testdata/sample

clean:
	rm -rf bin
