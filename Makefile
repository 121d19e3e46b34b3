# The two commands of the README:
#   make demo   two agents against the platform simulator, simulated GNSS and sound cards of files, no hardware
#   make test   everything CI runs (vet, tests with the race detector)
# Both install the Debian packages they need first (.ci/deps).

GO      ?= go
VERSION ?= $(shell systemd/deb/version 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all deps build test demo bench fuzz clean deb test-deb test-arm64 man

all: build

deps:
	.ci/deps

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/pttagent ./cmd/pttagent
	$(GO) build -o bin/pttsim ./cmd/pttsim

# gordonklaus/portaudio passes its stream ids to C as pointers (1, 2, …),
# which the race detector's pointer checks (checkptr) reject on the second
# stream opened; they are turned off for that package alone.
RACEFLAGS := -race -gcflags=github.com/gordonklaus/portaudio=-d=checkptr=0

test: deps
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting (gofmt -w)"; exit 1; }
	$(GO) vet ./...
	$(GO) test $(RACEFLAGS) -timeout 12m ./...
	$(MAKE) test-deb test-arm64

demo: deps build
	.ci/demo

# Benchmarks quoted in BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./gps/ ./uplink/... ./agent/... ./audio/...

# A short run of every fuzz target (go test runs one target per invocation).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 30s $$pkg || exit 1; \
	  done; \
	done

# The manual pages and the bash completion, from the command table and
# docs/config.md; `make test` fails when the committed ones are out of date.
man:
	$(GO) test ./cmd/pttagent -run '^TestGeneratedFiles$$' -update

# Debian packages for the handsets: dist/pttagent_VERSION_ARCH.deb
# (systemd/deb/build; arm64 is a cgo cross build).
DEB_ARCHS ?= amd64 arm64
deb: deps
	systemd/deb/build $(VERSION) $(COMMIT) $(DEB_ARCHS)

# Install the amd64 .deb on this machine and check it as a technician gets
# it; run the arm64 one under qemu (systemd/deb/test). Needs root.
test-deb: deb
	systemd/deb/test

# The pure-logic packages' tests, built for arm64 and run under
# qemu-aarch64-static (binfmt_misc is not mounted on CI, hence -exec).
ARM64_TEST_PKGS ?= ./gps/ ./agent/config ./agent/health ./agent/track ./agent/floor ./board ./wire ./uplink/queue ./systemd
test-arm64:
	CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc PKG_CONFIG=aarch64-linux-gnu-pkg-config \
	  $(GO) test -exec qemu-aarch64-static -timeout 5m $(ARM64_TEST_PKGS)

clean:
	rm -rf bin dist .demo
