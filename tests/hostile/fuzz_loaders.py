"""Coverage-guided fuzzing (atheris) of the stack and waiver loaders: only located errors may come out.

Not a test module (run it by hand, it runs until stopped or ``-runs``/``-max_total_time``)::

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python tests/hostile/fuzz_loaders.py -max_total_time=300 -max_len=4096 [corpus_dir]

Each input is written to a file and read by ``load_environment`` (the stack loader, tier defaults and
schema included) and ``load_waivers``. Anything but a ``SourceError`` whose problems are each one line,
in the file, is a finding (atheris stops and writes the input as ``crash-<sha1>``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.waivers import load_waivers

_DIR = Path(tempfile.mkdtemp(prefix="mlops-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
_FILE = _DIR / "Pulumi.fuzz.yaml"


def _check(exc: SourceError) -> None:
    for problem in exc.problems:
        text = str(problem)
        if problem.file != str(_FILE) or "\n" in text or len(text) > 1_300:
            raise AssertionError(f"badly located or unbounded problem: {text[:300]!r}")


def one_input(data: bytes) -> None:
    _FILE.write_bytes(data)
    for load in (load_environment, load_waivers):
        try:
            load(_FILE)
        except SourceError as exc:
            _check(exc)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
