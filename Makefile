# armi: `make` builds the static release binary; `make test` runs every test.
TARGET   := x86_64-unknown-linux-musl
BIN      := target/$(TARGET)/release/armi
EMULATOR := target/release/armi-emulator
CARGO    ?= cargo

.PHONY: all build musl-target emulator test demo bench lint clean

all: build

musl-target:
	@rustup target list --installed 2>/dev/null | grep -qx '$(TARGET)' || rustup target add $(TARGET)

build: musl-target
	$(CARGO) build --release --locked --target $(TARGET) -p armi
	@echo $(BIN)

emulator:
	$(CARGO) build --release --locked -p armi-emulator

# Unit and integration tests run against the release static binary (ARMI_BIN), then the
# artifact checks and the VM-like run in a private network namespace.
test: build emulator
	ARMI_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked --workspace
	tests/artifact.sh $(BIN) $(EMULATOR)
	tests/vm-like.sh $(BIN) $(EMULATOR)

demo: build emulator
	@tests/demo.sh $(BIN) $(EMULATOR)

bench: build emulator
	tests/bench.sh $(BIN) $(EMULATOR)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
