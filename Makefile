# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench soak clean chromium services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m ccr_aio $(ARGS)

# The UI tests (tests/test_ui.py) drive Debian's `chromium` through Playwright, never a downloaded
# browser: install it when it is missing (sudo when not root; apt-get update only if needed).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  APT="$$([ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get"; \
	  echo "installing chromium for the UI tests..."; \
	  $$APT install -y -qq chromium >/dev/null 2>&1 || \
	  { $$APT update -qq >/dev/null && $$APT install -y -qq chromium >/dev/null; } || \
	  { echo "make test needs chromium (apt-get install chromium)" >&2; exit 1; }; }

# The multi-instance test (tests/test_redis_nginx.py) starts its own redis-server and nginx on
# 127.0.0.1 (never the system services): install them the same way when missing.
services:
	@command -v redis-server >/dev/null 2>&1 && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || { \
	  APT="$$([ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get"; \
	  echo "installing redis-server and nginx for the multi-instance test..."; \
	  $$APT install -y -qq redis-server nginx >/dev/null 2>&1 || \
	  { $$APT update -qq >/dev/null && $$APT install -y -qq redis-server nginx >/dev/null; } || \
	  { echo "make test needs redis-server and nginx (apt-get install redis-server nginx)" >&2; exit 1; }; }

# mypy first (its settings: [tool.mypy] in pyproject.toml); a type error fails the target.
# Then the end-to-end tests once more, against a real server process with E2E_WORKERS workers
# (tests/conftest.py says which tests those are; E2E_WORKERS=0 leaves that run out).
E2E_WORKERS ?= 2
test: $(STAMP) chromium services
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(ARGS)
ifneq ($(E2E_WORKERS),0)
	$(BIN)/python -m pytest -m "e2e and not in_process" --server-workers $(E2E_WORKERS) $(ARGS)
endif

bench: $(STAMP)
	$(BIN)/python bench/bench.py $(ARGS)

# Minutes long, so not part of `make test`: 5,000 streams while slow and disconnecting clients
# hammer the server; prints RSS/fds over time (bench/soak.py).
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info
