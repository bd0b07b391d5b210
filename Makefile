# streamrec: `make run` and `make test` are the two commands a new user needs.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := librdkafka-dev pkg-config kcat docker-compose

.PHONY: deps build run test bench crash-loop clean

# Installs the system packages a fresh Debian machine lacks (librdkafka for the build; kcat and
# docker-compose for the interop and compose-file tests).
deps:
	@missing=""; \
	pkg-config --exists rdkafka 2>/dev/null || missing="$$missing librdkafka-dev pkg-config"; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

run: build
	$(SWIFT) run streamrec demo

test: deps
	$(SWIFT) test

bench: deps
	$(SWIFT) build -c release --product streamrec
	.build/release/streamrec bench kafka
	.build/release/streamrec bench engine
	.build/release/streamrec bench pipeline

# Repeats the SIGKILL crash-recovery test (each run picks new kill points): make crash-loop RUNS=20
RUNS ?= 20
crash-loop: deps
	$(SWIFT) build --build-tests
	@failed=0; for run in $$(seq 1 $(RUNS)); do \
		if $(SWIFT) test --skip-build --filter CrashRecoveryTests > /tmp/streamrec-crash-run-$$run.log 2>&1; \
		then echo "run $$run: passed"; \
		else failed=$$((failed + 1)); echo "run $$run: FAILED (log: /tmp/streamrec-crash-run-$$run.log)"; fi; \
	done; echo "$$failed of $(RUNS) runs failed"; [ $$failed -eq 0 ]

clean:
	rm -rf .build
