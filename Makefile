# Slotline's maintenance tasks. The two everyday commands are in the README
# (go run ./cmd/slotline serve, and the test suite); these are for releases.

VERSION ?= $(shell git describe --tags --always --dirty)

.PHONY: release third-party refdocs web
# Release archives, SHA256SUMS and SBOMs in dist/ (reproducible: see docs/operations.md).
release:
	go run ./tools/release -version $(VERSION) -out dist

# THIRD_PARTY.md from the modules the binary links.
third-party:
	go run ./tools/licenses

# docs/configuration.md's example and key table from internal/config.
refdocs:
	go run ./tools/refdocs

# The browser bundle embedded in the binary (needs Node and npm).
web:
	cd web && npm ci && npm run build
