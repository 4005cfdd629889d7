# tflite-edge: the Makefile is a thin shell over the `tflite-edge` CLI.
#   make demo                         the main job, end to end on the default emulated board
#   make test                         install everything needed, then run the test suite
#   make test-fast                    the same without the slow tests: a developer's loop
#   make flash BOARD=qemu-m4 MODEL=m.tflite [PORT=/dev/ttyUSB0] [RUNTIME=auto|aot|tflm] [RUNS=10]
#   make monitor PORT=/dev/ttyUSB0
#   make bench [TFLM_DIR=DIR]         benchmarks into bench/results/ and BENCHMARKS.md

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/tflite-edge
BOARD ?= qemu-m4
RUNTIME ?= auto
RUNS ?= 10
MODEL ?= demo/digits_int8.tflite
PORT ?=
BAUD ?= 115200
# pytest-xdist processes for make test (each test file runs whole in one of them)
TEST_WORKERS ?= 2
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export NO_COLOR := 1
export PYTHONHASHSEED := 0

.PHONY: install system-deps demo test test-fast flash monitor bench lint clean

install: $(VENV)/.installed system-deps

$(VENV)/.installed: setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The cross toolchain and the emulator come from Debian; as root we install them, otherwise we
# say the exact command.
system-deps:
	@missing=""; \
	command -v arm-none-eabi-gcc >/dev/null || missing="$$missing gcc-arm-none-eabi"; \
	command -v qemu-system-arm >/dev/null || missing="$$missing qemu-system-arm"; \
	{ command -v arm-none-eabi-gcc >/dev/null && \
	  test -f "$$(arm-none-eabi-gcc -print-file-name=libc.a)"; } || missing="$$missing libnewlib-arm-none-eabi"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) gcc >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing; run: sudo apt-get install -y $(APT_PACKAGES) gcc"; \
	    exit 1; \
	  fi; \
	fi

demo: install
	$(CLI) demo --board $(BOARD) --out demo

test: install
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The developer's loop: everything but the tests marked slow (training, QEMU sweeps, builds).
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile -m "not slow"

flash: install
	@$(CLI) boards --check $(BOARD) >/dev/null
	@if [ "$(MODEL)" = "demo/digits_int8.tflite" ] && [ ! -f "$(MODEL)" ]; then \
	  echo "no MODEL given and no demo model yet: making it with the demo's convert step"; \
	  $(CLI) demo --board $(BOARD) --out demo --convert-only; fi
	$(CLI) flash --board $(BOARD) --model $(MODEL) --runtime $(RUNTIME) --runs $(RUNS) \
	  $(if $(PORT),--port $(PORT))

monitor: install
	@test -n "$(PORT)" || { echo "make monitor needs PORT=<serial port or URL>, e.g. PORT=/dev/ttyUSB0"; exit 2; }
	$(CLI) monitor --port $(PORT) --baud $(BAUD)

# The same-board table builds TFLM's firmware from a tflite-micro tree: TFLM_DIR, by default
# the pinned one beside the project when it is there (without one that table is skipped).
TFLM_DIR ?= $(wildcard ../shared/third_party/tflite-micro)

bench: install
	$(CLI) bench --out bench/results --markdown BENCHMARKS.md $(if $(TFLM_DIR),--tflm-dir $(TFLM_DIR))

lint: install
	$(VENV)/bin/ruff check tflite_edge tests
	$(VENV)/bin/ruff format --check tflite_edge tests

clean:
	rm -rf build dist *.egg-info demo bench/work .pytest_cache
