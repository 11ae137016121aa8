# All setup is done by the targets themselves: on a fresh machine `make demo` or `make test` is enough.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch is pinned everywhere: an unpinned torch pulls GBs of CUDA wheels.
TORCH  := torch==2.13.0
NATIVE_SRC := $(shell find csrc -name '*.cpp' -o -name '*.cu' -o -name '*.h' -o -name '*.cuh' -o -name '*.inc' 2>/dev/null) CMakeLists.txt cmake/simd.cmake pyproject.toml

.PHONY: setup build test test-slow test-all demo docs default-model wheel bench bench-train gpu-check clean

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)" "scikit-build-core>=0.10" "pybind11>=2.12" ninja
	touch $@

# Editable install; the C++/CUDA extension is rebuilt (incrementally) when csrc changes.
$(VENV)/.built: $(VENV)/.deps $(NATIVE_SRC)
	$(PIP) install -q --no-build-isolation -e ".[train,test,docs]"
	touch $@

setup build: $(VENV)/.built

test: $(VENV)/.built
	$(PY) -m pytest -q

test-slow: $(VENV)/.built
	$(PY) -m pytest -q -m slow

test-all: $(VENV)/.built
	$(PY) -m pytest -q -m "slow or not slow"

demo: $(VENV)/.built
	$(VENV)/bin/bharnet demo

# The documentation site, strict (a broken link or reference fails), into site/ (not committed).
docs: $(VENV)/.built
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The embedded default model, rebuilt from its recipe with the ordinary commands:
# synthetic data -> bharnet train -> bharnet export into the package.
DEMO_CONFIG ?= training/configs/demo_streaming.yaml
DEMO_WORK   ?= work_dirs/default_model
DEMO_BUNDLE := python/bharnet/sdk/default_model/default.bharnet
default-model: $(VENV)/.built
	mkdir -p $(DEMO_WORK)
	$(VENV)/bin/bharnet data synth --with-idle --clips-per-class 48 --seed 0 --out $(DEMO_WORK)/synth.npz
	$(VENV)/bin/bharnet train $(DEMO_CONFIG) --data $(DEMO_WORK)/synth.npz --work-dir $(DEMO_WORK)/run --force
	$(VENV)/bin/bharnet export $(DEMO_WORK)/run/final.pt --out $(DEMO_BUNDLE) --no-fp16 \
		--name bharnet-default-demo \
		--description "demo model trained on synthetic data (bharnet data synth --with-idle); not trained on real recordings; recipe $(DEMO_CONFIG)"

wheel: $(VENV)/.deps
	$(PIP) wheel --no-build-isolation --no-deps -w dist .

# quick benchmarks (minutes): cost, kernels, export latency, SDK, continual streaming
bench: $(VENV)/.built
	$(PY) bench/cost.py
	$(PY) bench/kernels.py --threads 1 --clock cpu --out bench/results/kernels_cpu_1t.json
	$(PY) bench/export.py
	$(PY) bench/sdk.py
	$(PY) bench/streaming.py

# training benchmarks (an hour or more on 2 cores): JHMDB over 3 seeds, the fine-grained table, RGB
bench-train: $(VENV)/.built
	$(PY) bench/jhmdb_seeds.py
	$(PY) bench/fine_grained.py
	$(PY) bench/rgb.py

# The prepared GPU check (tools/gpu_check.sh): on a CUDA machine, with that machine's own Python
# and torch (no .venv, no torch pin, no downloads), builds _C with CUDA into build/gpu, runs every
# gpu-marked test and bench/kernels.py --device cuda -> bench/results/kernels_cuda.json, in under
# 10 minutes. GPU_CHECK_ARGS: e.g. --results DIR, --build-only, --dry-run.
GPU_PY ?= python3
gpu-check:
	GPU_PY="$(GPU_PY)" bash tools/gpu_check.sh $(GPU_CHECK_ARGS)

clean:
	rm -rf build dist site $(VENV)

# Continual streaming (issue 12): window recompute vs continual inference (ONNX Runtime step graph,
# native C++ step runtime) and the SDK end to end, demo and default width, with the target ratios:
# bench/results/streaming.json and .png. 5-10 min here (a fresh run: 4.8 min), most of it exporting the four bundles
# (cached in work_dirs/bench_streaming/ for later runs). BENCH_STREAMING_ARGS: e.g. --quick.
.PHONY: bench-streaming
bench-streaming: $(VENV)/.built
	$(PY) bench/streaming.py $(BENCH_STREAMING_ARGS)

# Jetson-class aarch64: a manylinux wheel cross-built against glibc 2.31 (build/aarch64/dist), and
# its tests under qemu: torch-free suite, C++ kernels on every ISA path, x86/aarch64 SDK parity.
# Root is needed (apt-get, binfmt_misc, chroot). See tools/aarch64/.
.PHONY: wheel-aarch64 test-aarch64
wheel-aarch64:
	bash tools/aarch64/build_wheel.sh

test-aarch64: wheel-aarch64 $(VENV)/.built
	bash tools/aarch64/test.sh

# issue 22's per-frame ratios for the aarch64 build under qemu -> bench/results/frame_path_aarch64.json
.PHONY: bench-aarch64
bench-aarch64: wheel-aarch64 $(VENV)/.built
	BHARNET_AARCH64_BENCH=1 bash tools/aarch64/test.sh
