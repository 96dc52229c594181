# Two commands do all the set-up on a fresh machine:
#   make demo   light runtime (no torch) + the main job on the embedded sample
#   make test   everything (torch CPU first), then ruff, mypy and pytest
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= demo-output
TORCH_VERSION ?= 2.13.0

.PHONY: demo test install-runtime install-dev install-browser lint typecheck pytest bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install-runtime: $(PY)
	$(PIP) install -q -e ".[cpu]"

# torch is installed first, pinned, so that the range in the `train` extra is
# already satisfied and pip never pulls a CUDA build.
install-dev: $(PY)
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[cpu,train,dev,batch]"

# Debian's Chromium + ChromeDriver for the viewer's browser test. Installed when
# missing and we may (root + apt-get); otherwise those tests skip and say why.
install-browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian chromium + chromium-driver for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "warning: could not install chromium; the browser tests will be skipped"; \
	else echo "chromium/chromedriver not found and cannot install them: the browser tests will be skipped"; fi

demo: install-runtime
	$(VENV)/bin/pix2lst demo -o $(OUT) --overwrite

lint: install-dev
	$(VENV)/bin/ruff check pix2lst tests benchmarks
	$(VENV)/bin/ruff format --check pix2lst tests benchmarks

typecheck: install-dev
	$(VENV)/bin/mypy

pytest: install-dev install-browser
	$(PY) -m pytest -n 2 -q

test: install-dev install-browser
	$(VENV)/bin/ruff check pix2lst tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 -q

bench: install-dev
	$(PY) -m benchmarks all

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
