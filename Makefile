# sdnlab: `make demo` runs the main job, `make test` the whole suite.
# Both install what they need first and are safe to run again.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SDNLAB := $(VENV)/bin/sdnlab
DEMO := topologies/two-nodes.yaml
DEMO_SCENARIO := topologies/scenarios/two-nodes-link-failure.yaml
# Debian packages; later parts of the project add theirs here.
DEBS := openvswitch-switch openvswitch-testcontroller python3-openvswitch \
        mininet iputils-ping iproute2 ethtool python3-venv python3-pip \
        lxc busybox-static qemu-system-x86 linux-image-amd64 cpio

.PHONY: setup debs ovs demo test lint bench clean notebooks notebooks-html

setup: debs $(VENV)/.installed ovs

debs:
	@scripts/install-debs $(DEBS)

# Debian's Python, with its site packages visible: Mininet and Open vSwitch's
# Python library live there (see README.md, Machine notes).
$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt | debs
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,notebooks]'
	@touch $@

ovs: debs
	@scripts/start-ovs

demo: setup
	@mkdir -p build
	$(SDNLAB) check $(DEMO)
	$(SDNLAB) graph $(DEMO) -o build/demo.png
	$(SDNLAB) sim run $(DEMO) --plot build/demo-sim.png
	$(SDNLAB) sim run $(DEMO_SCENARIO) --plot build/demo-scenario.png
	@echo "pictures: build/demo.png (the lab), build/demo-sim.png (probes vs intent), build/demo-scenario.png (after the link failure scenario)"

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(VENV)/bin/pytest

# The course, for a person: JupyterLab on localhost only.
notebooks: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser --allow-root --notebook-dir=notebooks

# Each notebook executed and rendered to HTML, to read without running anything.
notebooks-html: setup
	@mkdir -p build/notebooks
	cd notebooks && ../$(VENV)/bin/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
		--output-dir ../build/notebooks *.ipynb
	@echo "rendered: build/notebooks/*.html"

# Every benchmark; each writes its figures and the command to bench/results/.
bench: setup ovs
	$(PY) bench/check_scale.py
	$(PY) bench/controller_bench.py
	$(PY) bench/sim_bench.py
	$(PY) bench/recovery_bench.py

clean:
	rm -rf build .pytest_cache .hypothesis
