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
        lxc busybox-static qemu-system-x86 linux-image-amd64 cpio \
        corosync libcpg4 libquorum5 libvotequorum8

.PHONY: setup debs ovs hostids demo test lint bench bench-cluster soak clean notebooks notebooks-html mutation

setup: debs $(VENV)/.installed ovs hostids

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

# The id range root's unprivileged LXC containers map to (see scripts/container-ids).
hostids:
	@scripts/container-ids

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
	$(PY) bench/failover_bench.py
	$(PY) bench/reload_bench.py
	$(PY) bench/cluster_failover.py
	$(PY) bench/rehearsal_bench.py
	$(PY) bench/pve_import_bench.py --write

# The controller cluster's failover alone (kill and partition of the master): bench/results/cluster_failover.md.
bench-cluster: setup ovs
	$(PY) bench/cluster_failover.py

# `sdnlab up`, probe and `sdnlab down` of a mixed lab, 20 times, half of them under CPU load:
# failures and leftovers go to bench/results/soak.md (about 15 minutes; not part of `make test`).
soak: setup ovs
	$(PY) bench/soak.py --runs 20

# Mutation testing of the pure modules (not part of `make test`; configured under [mutmut] in setup.cfg):
# mutmut runs on a copy of the tree in build/mutation, one worker at low priority, then
# bench/mutation_collect.py saves every mutant's status to bench/results/mutation-results.json and
# bench/mutation_report.py writes bench/results/mutation.md from it. Only those two files remain.
MUTATION := build/mutation
MUTATION_WORKERS ?= 1
mutation: setup $(VENV)/.mutation
	@rm -rf $(MUTATION) && mkdir -p $(MUTATION) bench/results
	@tar -c --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./mutants --exclude=./notebooks --exclude=__pycache__ \
		--exclude=.hypothesis --exclude=.pytest_cache --exclude=.ruff_cache --exclude='*.egg-info' . | tar -x -C $(MUTATION)
	cd $(MUTATION) && start=$$(date +%s) && nice -n 10 ../../$(VENV)/bin/mutmut run --max-children $(MUTATION_WORKERS) > mutmut.log 2>&1 \
		|| { tail -c 3000 mutmut.log; exit 1; }; \
		../../$(PY) ../../bench/mutation_collect.py ../../bench/results/mutation-results.json --seconds $$(( $$(date +%s) - start )) \
		--command "make mutation (nice -n 10 mutmut run --max-children $(MUTATION_WORKERS))"
	$(PY) bench/mutation_report.py
	@rm -rf $(MUTATION)

$(VENV)/.mutation: setup.cfg constraints.txt | $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[mutation]'
	@touch $@

clean:
	rm -rf build .pytest_cache .hypothesis
