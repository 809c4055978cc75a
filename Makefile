# armi: `make` builds the static release binary; `make test` runs every test; `make dist` builds
# the release tarballs and the .deb and .rpm packages (x86_64 and aarch64, static musl,
# reproducible).
TARGET   := x86_64-unknown-linux-musl
AARCH64  := aarch64-unknown-linux-musl
BIN      := target/$(TARGET)/release/armi
BIN_AARCH64 := target/$(AARCH64)/release/armi
EMULATOR := target/release/armi-emulator
CARGO    ?= cargo
VERSION  := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)

# Reproducible release builds. Tarball mtimes come from the last commit's date: 0 when this is
# not a git checkout of armi itself (as ARMI_COMMIT is then "unknown", see build.rs).
SOURCE_DATE_EPOCH ?= $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] \
	&& git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
# Paths compiled into the binary (panic locations) must not depend on where the checkout or
# cargo's registry is: both are remapped. Passed with --config so that they apply to the musl
# targets only (not to build scripts or to the host build of `cargo test`/clippy), and merge with
# .cargo/config.toml. `make` and `make dist` use the same flags, so they share one build.
# (A RUSTFLAGS variable in the environment would replace these flags: leave it unset.)
CARGO_HOME ?= $(HOME)/.cargo
REMAP = "--remap-path-prefix=$(CURDIR)=.", "--remap-path-prefix=$(CARGO_HOME)=/cargo"
release = $(CARGO) build --release --locked -p armi --target $(1) --config 'target.$(1).rustflags=[$(REMAP)]'

# Installs Debian packages when a check fails: as root with apt-get, else says what to install.
# $(call need,WHAT,CHECK,PACKAGES)
need = $(2) || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(3) (for $(1))"; \
		export DEBIAN_FRONTEND=noninteractive; \
		(apt-get install -y -qq --no-install-recommends $(3) >/dev/null 2>&1 || \
		 { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(3) >/dev/null; }) && \
		$(2); \
	else echo "$(1) is missing: install $(3) (apt-get install $(3))" >&2; exit 1; fi; }
has = command -v $(1) >/dev/null 2>&1
rust-target = rustup target list --installed 2>/dev/null | grep -qx '$(1)' || rustup target add $(1)

.PHONY: all build build-aarch64 musl-target aarch64-tools qemu emulator azurite test test-aarch64 \
	dist check-repro demo bench soak storm storm-sim lint clean package-tools test-tools test-packages

all: build

musl-target:
	@$(call rust-target,$(TARGET))

build: musl-target
	$(call release,$(TARGET))
	@echo $(BIN)

# aarch64 is cross-built with Debian's gcc-aarch64-linux-gnu as C compiler and linker driver
# (.cargo/config.toml); musl's crt and libc come with the Rust target. ring's C needs the
# cross C headers (libc6-dev-arm64-cross) for <stdint.h>.
aarch64-tools:
	@$(call rust-target,$(AARCH64))
	@$(call need,the aarch64 C cross compiler (aarch64-linux-gnu-gcc with its headers),$(call has,aarch64-linux-gnu-gcc) && [ -f /usr/aarch64-linux-gnu/include/stdint.h ],gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

build-aarch64: aarch64-tools
	$(call release,$(AARCH64))
	@echo $(BIN_AARCH64)

qemu:
	@$(call need,qemu-aarch64-static,$(call has,qemu-aarch64-static),qemu-user-static)

emulator:
	$(CARGO) build --release --locked -p armi-emulator

# Azurite (Microsoft's Storage emulator, pinned in tests/azurite/package-lock.json) for the blob
# tests, installed with npm only when node_modules is missing or older than the lock file.
AZURITE_DIR := tests/azurite
azurite: $(AZURITE_DIR)/node_modules

$(AZURITE_DIR)/node_modules: $(AZURITE_DIR)/package-lock.json $(AZURITE_DIR)/package.json
	@$(call has,npm) || { echo "azurite: npm is missing: install Node.js 20 or later with npm" >&2; exit 1; }
	npm ci --prefix $(AZURITE_DIR) --no-audit --no-fund
	@touch $@

# Debian's dpkg-deb (in dpkg) and rpmbuild (in rpm) build the packages.
package-tools:
	@$(call need,dpkg-deb,$(call has,dpkg-deb),dpkg)
	@$(call need,rpmbuild and rpm2archive,$(call has,rpmbuild) && $(call has,rpm2archive),rpm)

# What the man page, completion, package and cloud-init checks run: mandoc and man-db, the three
# shells (bash with bash-completion), tmux to give zsh a terminal, cloud-init's schema validator.
test-tools: package-tools
	@$(call need,mandoc and man,$(call has,mandoc) && $(call has,man) && $(call has,lexgrog),mandoc man-db)
	@$(call need,bash-completion zsh fish and tmux,[ -f /usr/share/bash-completion/bash_completion ] && $(call has,zsh) && $(call has,fish) && $(call has,tmux),bash-completion zsh fish tmux)
	@$(call need,cloud-init,$(call has,cloud-init),cloud-init)

# The generated man page and completions in their programs, the packages in dist/ installed and
# removed, and examples/cloud-init.yaml validated and run against the emulator.
define package-tests
	tests/completions.sh $(BIN)
	tests/packages.sh $(VERSION) $(CURDIR)/$(BIN)
	tests/cloud-init.sh dist/armi-$(VERSION)-$(TARGET).tar.gz $(EMULATOR)
endef

# Unit and integration tests run against the release static binary (ARMI_BIN), then the
# artifact checks, the empty chroot, the VM-like run in a private network namespace, and the
# package tests (which build dist/, so the aarch64 binary too).
test: build emulator azurite dist test-tools
	ARMI_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked --workspace
	tests/artifact.sh $(BIN) $(EMULATOR)
	tests/chroot.sh $(BIN) $(EMULATOR)
	tests/vm-like.sh $(BIN) $(EMULATOR)
	tests/readme.sh $(BIN) $(EMULATOR)
	$(package-tests)

# The package tests alone.
test-packages: dist emulator test-tools
	$(package-tests)

# The integration tests against the aarch64 binary under qemu-user (no binfmt_misc needed:
# the wrapper calls qemu-aarch64-static itself). TEST_THREADS: how many tests run at once.
# usage::version_names_the_target expects the test runner's own architecture (x86_64) in
# --version, which a cross-built binary cannot print: it is skipped here, and the line after the
# tests checks that the aarch64 binary names its own target instead.
TEST_THREADS ?= 2
test-aarch64: build-aarch64 qemu emulator azurite
	ARMI_BIN=$(CURDIR)/tests/aarch64-run.sh ARMI_EXPECT_ARCH=aarch64 $(CARGO) test --locked --test armi -- \
		--test-threads=$(TEST_THREADS)
	@size=$$(stat -c %s $(BIN_AARCH64)) && [ "$$size" -le 2097152 ] \
		|| { echo "test-aarch64: FAIL: $(BIN_AARCH64) is $$size bytes, over the 2 MiB budget" >&2; exit 1; }
	@v=$$(tests/aarch64-run.sh --version) && case "$$v" in *"$(AARCH64)"*) echo "test-aarch64: ok: $$v" ;; \
		*) echo "test-aarch64: FAIL: --version under qemu printed: $$v" >&2; exit 1 ;; esac

# dist/armi-VERSION-TARGET.tar.gz for both targets, the .deb and .rpm packages of each (man page
# and completions from the x86_64 binary's --generate), and dist/SHA256SUMS of them all.
dist: build build-aarch64 package-tools
	tests/dist.sh $(VERSION) $(TARGET)=$(BIN) $(AARCH64)=$(BIN_AARCH64)
	tests/dist-packages.sh $(VERSION) $(CURDIR)/$(BIN) $(TARGET)=$(BIN) $(AARCH64)=$(BIN_AARCH64)

# Builds dist twice, from two copies of this tree at different paths with their own target
# directories, and compares the SHA256SUMS (tarballs and packages).
check-repro: musl-target aarch64-tools package-tools
	tests/check-repro.sh

demo: build emulator
	@tests/demo.sh $(BIN) $(EMULATOR)

bench: build build-aarch64 emulator azurite
	tests/bench.sh $(BIN) $(EMULATOR)

# Fault soak, not part of `make test` or CI: SOAK_RUNS (default 2000) runs of the release binary,
# SOAK_THREADS (default 16) at once, each against its own emulator with a random fault, checked
# for exit code, deadline, no token on stderr and peak RSS (tests/soak.rs). The seed is printed
# first; SOAK_SEED=S replays the set, SOAK_ONLY=N run N of it alone.
soak: build
	ARMI_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked --test soak -- --ignored --nocapture

# Boot storm, not part of `make test` or CI: STORM_N (default 1000) real armi processes of the
# release binary, released within STORM_SPREAD seconds (default 0), each a VM with its own IMDS
# running `armi group` against one throttling ARM (tests/storm.rs). STORM_SCENARIO=shared|system|all
# (default all), STORM_COSTLY=0|1 (429s free or costing a token; default both).
storm: build
	ARMI_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked --profile storm --test storm -- --ignored --nocapture

# The same storms in virtual time (tests/storm_sim.rs) for 1,000, 10,000 and 100,000 VMs
# (STORM_SIM_CLIENTS, comma-separated), with the emulator's own bucket model and armi's retry
# policy as a function; STORM_SCENARIO, STORM_COSTLY and STORM_SPREAD as for `make storm`.
storm-sim:
	$(CARGO) test --locked --profile storm --test storm_sim -- --ignored --nocapture

# Every fuzz target (fuzz/, cargo-fuzz with libFuzzer) for FUZZ_SECONDS each, two at a time,
# from the seeds in fuzz/seeds/ and the corpus kept in fuzz/corpus/; installs cargo-fuzz when
# missing and prints each target's executions, corpus and findings (in fuzz/artifacts/). Not in CI.
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO=$(CARGO) fuzz/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	# The fuzz targets are their own workspace; linting them keeps them building between runs.
	cd fuzz && $(CARGO) fmt -- --check && $(CARGO) clippy --locked --bins -- -D warnings

clean:
	$(CARGO) clean
	rm -rf dist
