#!/usr/bin/env bash
# Install irkit into .venv on a fresh machine (CPU torch first), then run the main job:
# index CACM, Cranfield and Vaswani, rank with BM25, evaluate, print a leaderboard.
# The collections ship inside the package (`irkit datasets`): nothing beside the repository is needed.
#   bash scripts/setup.sh            # install + main job
#   bash scripts/setup.sh --install  # install only
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# apt waits up to 5 minutes for a dpkg lock that another apt holds (a fresh machine's own
# updates often do) instead of giving up at once.
apt_install() {
  (export DEBIAN_FRONTEND=noninteractive
   apt-get -qq -o DPkg::Lock::Timeout=300 update &&
     apt-get -qq -o DPkg::Lock::Timeout=300 install -y "$1" >/dev/null)
}
# espeak-ng synthesises the speech the WaveNet trains on (irkit.generative.audio);
# its tests skip with a reason where it cannot be installed (no root, no apt).
command -v espeak-ng >/dev/null || apt_install espeak-ng || echo "warning: espeak-ng not installed; WaveNet speech data and tests will be skipped" >&2
# Chromium renders the HTML leaderboard report in a real browser (tests/evaluate/test_leaderboard_html.py);
# the test skips with a reason where it cannot be installed.
command -v chromium >/dev/null || apt_install chromium || echo "warning: chromium not installed; the HTML report's browser test will be skipped" >&2
# Debian's fortunes (/usr/share/games/fortunes) are the labelled texts of the semi-supervised
# classifier (irkit.generative.text.classifier); its fortune tests skip with a reason where they are missing.
[ -d /usr/share/games/fortunes ] || apt_install fortunes || echo "warning: fortunes not installed; the semi-supervised classifier's data and tests will be skipped" >&2
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The CPU wheel of torch 2.13.0 lies on this machine's disk; installing it first
# keeps pip from resolving `torch>=2.13` to a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev,irds,pyterrier,transformers]"
# Compile the BM25 search kernel (C, a second or two; cached in ~/.cache/irkit) now, so that the
# first `irkit rank` is as fast as the next instead of compiling it first.
.venv/bin/python -c "from irkit.retrieve import kernel; kernel.build()"
if [ "${1:-}" = "--install" ]; then
  exit 0
fi
exec bash scripts/main_job.sh
