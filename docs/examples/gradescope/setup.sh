#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.  The zip holds
# this file, run_autograder, the homework's program (hw1.grad) and a gradcli wheel
# (`python -m build --wheel` in a gradcli checkout writes it to dist/).
set -euo pipefail
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install /autograder/source/gradcli-*.whl
