# syscontainer: the two commands a newcomer runs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO ?= cargo
ROOTFS ?= /var/cache/syscontainer/rootfs/bookworm
PREFIX ?= /usr/local
BIN_DIR := $(CURDIR)/target/debug
RELEASE_DIR := $(CURDIR)/target/release
BINARIES := syscontainer syscontainer-oci lxcfs-rs lxcfs-toolkit lxcfs-hook syscontainer-tools syscontainer-hooks
# Installed beside them, with no command line of their own (no man page or completion).
HELPER_BINARIES := syscontainer-exec-stage syscontainer-monitor
MAN_DIR ?= $(PREFIX)/share/man/man1
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/site-functions
FISH_COMPLETION_DIR ?= $(PREFIX)/share/fish/vendor_completions.d
VM_IMAGE ?= /var/cache/syscontainer/vm/bookworm
## libtest arguments for the VM lane's tests, e.g. VM_TESTS='--skip exec_reaches'.
VM_TESTS ?=

.PHONY: all deps rootfs build release demo test test-host test-release unit integration vm lint install uninstall bench clean fuzz fuzz-smoke

all: build

deps:
	@bash scripts/install-deps.sh test

rootfs: deps
	@bash scripts/mkrootfs.sh $(ROOTFS)

build:
	$(CARGO) build --workspace --locked

# The CLI and the exec stage start at every `exec`: linked statically against musl they run
# neither a dynamic loader nor glibc's CPUID walk, which saves ~1.1 ms per exec
# (docs/performance/exec-and-hotadd.md). Run after the release build.
STATIC_BINARIES = bash scripts/static-binaries.sh $(CARGO)

release:
	$(CARGO) build --workspace --locked --release
	$(STATIC_BINARIES)

## Boot the default Debian rootfs as a system container, show it, clean up.
demo: deps rootfs build
	@bash scripts/demo.sh $(BIN_DIR) $(ROOTFS)

## Everything CI checks: lint, unit tests, integration tests that boot real containers on
## this host, the release build as shipped (static CLI and exec stage), then the same kind of
## tests in a VM with pure cgroup v2 and systemd as PID 1.
test: test-host test-release vm

## The quick loop for development: everything but the VM lane.
test-host: deps rootfs build lint unit integration fuzz-smoke

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p syscontainer-tests --all-targets --features vm --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked --lib --bins

integration:
	SYSCONTAINER_BIN_DIR=$(BIN_DIR) SYSCONTAINER_TEST_ROOTFS=$(ROOTFS) \
		$(CARGO) test --workspace --locked --tests -- --test-threads 2

## The shipped build: `make release` links the CLI and the exec stage statically against
## musl, which the debug build of `integration` does not. The suites of tests/ run again
## against target/release, all but crash.rs: its crash points exist only in debug builds.
RELEASE_SUITES ?= runtime security features sysopts concurrency tools lxcfs cni oci containerd
test-release: deps rootfs release
	@bash scripts/check-static.sh $(RELEASE_DIR)
	SYSCONTAINER_BIN_DIR=$(RELEASE_DIR) SYSCONTAINER_TEST_ROOTFS=$(ROOTFS) \
		$(CARGO) test -p syscontainer-tests --locked --no-fail-fast $(addprefix --test ,$(RELEASE_SUITES)) -- --test-threads 2

## Fuzzing (fuzz/, nightly + cargo-fuzz, both installed when missing): every target for
## FUZZ_RUNS executions (docs/reliability.md reports a run); fuzz-smoke runs each for 5 s.
FUZZ_RUNS ?= 1000000
fuzz:
	@bash scripts/fuzz-smoke.sh --runs $(FUZZ_RUNS)

fuzz-smoke:
	@bash scripts/fuzz-smoke.sh --seconds 5

## The VM lane (scripts/vm/): builds a cached bookworm VM image, boots it with QEMU and runs
## the `vm`-feature tests (tests/tests/*_v2.rs, cgroup2.rs, systemd_*.rs, units.rs) inside,
## on pure cgroup v2 under systemd, against the shipped build (target/release, the binaries
## `make install` installs); 7-9 minutes under TCG once cached.
vm: deps rootfs release
	@bash scripts/check-static.sh $(RELEASE_DIR)
	@bash scripts/vm/run.sh $(RELEASE_DIR) $(ROOTFS) $(VM_IMAGE) '$(VM_TESTS)'

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/syscontainer $(DESTDIR)/lib/systemd/system
	for b in $(BINARIES) $(HELPER_BINARIES); do install -m 0755 $(RELEASE_DIR)/$$b $(DESTDIR)$(PREFIX)/bin/$$b; done
	for f in etc/*.json; do \
		[ -e $(DESTDIR)/etc/syscontainer/$$(basename $$f) ] || install -m 0644 $$f $(DESTDIR)/etc/syscontainer/; \
	done
	install -m 0644 systemd/*.service $(DESTDIR)/lib/systemd/system/
	install -d $(DESTDIR)/etc/cni/net.d
	for f in etc/cni/net.d/*.conflist; do \
		[ -e $(DESTDIR)/etc/cni/net.d/$$(basename $$f) ] || install -m 0644 $$f $(DESTDIR)/etc/cni/net.d/; \
	done
	install -d $(DESTDIR)$(MAN_DIR) $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR) $(DESTDIR)$(FISH_COMPLETION_DIR)
	for b in $(BINARIES); do \
		$(RELEASE_DIR)/$$b --generate-man $(DESTDIR)$(MAN_DIR) && \
		$(RELEASE_DIR)/$$b --generate-completion bash > $(DESTDIR)$(BASH_COMPLETION_DIR)/$$b && \
		$(RELEASE_DIR)/$$b --generate-completion zsh > $(DESTDIR)$(ZSH_COMPLETION_DIR)/_$$b && \
		$(RELEASE_DIR)/$$b --generate-completion fish > $(DESTDIR)$(FISH_COMPLETION_DIR)/$$b.fish || exit 1; \
	done

uninstall:
	for b in $(BINARIES) $(HELPER_BINARIES); do \
		rm -f $(DESTDIR)$(PREFIX)/bin/$$b $(DESTDIR)$(MAN_DIR)/$$b.1 $(DESTDIR)$(MAN_DIR)/$$b-*.1 \
			$(DESTDIR)$(BASH_COMPLETION_DIR)/$$b $(DESTDIR)$(ZSH_COMPLETION_DIR)/_$$b $(DESTDIR)$(FISH_COMPLETION_DIR)/$$b.fish; \
	done
	rm -f $(addprefix $(DESTDIR)/lib/systemd/system/,$(notdir $(wildcard systemd/*.service)))

## Side-by-side performance against LXC, systemd-nspawn and lxcfs 5.0.3; writes
## docs/benchmarks.md, docs/bench/*.svg and bench/results/*.json. BENCH_ARGS=--help lists the knobs.
bench:
	@bash scripts/install-deps.sh bench
	@bash scripts/mkrootfs.sh $(ROOTFS)
	$(CARGO) build --workspace --locked --release
	$(STATIC_BINARIES)
	$(RELEASE_DIR)/syscontainer-bench run --bin-dir $(RELEASE_DIR) --rootfs $(ROOTFS) $(BENCH_ARGS)

clean:
	$(CARGO) clean
