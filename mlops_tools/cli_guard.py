"""The ``mlops`` entry guard: every way a command can end becomes an exit code and at most one line.

Exit codes (README, "Exit codes and limits"):

- 0: done, nothing blocking; 1: a mandatory policy violation (or a policy that raised);
- 2: bad input: a spec, waiver or policy file, an option, a path that cannot be read or written, an
  output (``-o`` file or standard output) that cannot take the report;
- 70 (``EX_SOFTWARE`` of sysexits.h): an internal error, a bug in mlops: one line naming the
  exception and asking for a report; ``mlops --debug ...`` (or ``MLOPS_DEBUG=1``) adds the traceback;
- 130: interrupted (Ctrl-C).

Nothing here imports more than the standard library and typer (already loaded).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
BUG_HINT = (
    "this is a bug in mlops: please report it with the output of `mlops --debug` and the same arguments"
)
MAX_LINE_CHARS = 500


class OutputError(OSError):
    """A report or schema file that cannot be written: ``--output: cannot write PATH: reason``."""

    def __init__(self, option: str, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.option, self.path = option, path

    def __str__(self) -> str:
        return f"{self.option}: cannot write {self.path}: {self.strerror}"


def write_output(
    path: Path,
    text: str | Iterable[str],
    *,
    option: str = "--output",
    force: bool = False,
    inputs: Sequence[Path] = (),
) -> None:
    """Write ``text`` (or its pieces, as they come) to ``path`` (creating its directory) atomically.

    Every failure is an :class:`OutputError`. A regular file is replaced whole
    (:func:`mlops_platform.tools.atomic_write.write_atomic`), and only with ``force`` when it exists;
    a link to one, or one of this run's ``inputs``, is refused. A device or pipe (``/dev/null``,
    ``/dev/stdout``) is written as a stream: there is nothing to lose, and a full device
    (``/dev/full``) fails only when the file is flushed: that is inside too.
    """
    from mlops_platform.tools.atomic_write import WriteRefused, write_atomic

    try:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:  # mkdir would say "File exists"
            raise OSError(errno.ENOTDIR, f"Not a directory ({blocker} is a file)")
        if path.is_dir():
            raise OSError(errno.EISDIR, "Is a directory")
        if path.exists() and not path.is_file():
            with path.open("w", encoding="utf-8") as handle:
                if isinstance(text, str):
                    handle.write(text)
                else:
                    handle.writelines(text)
            return
        for source in inputs:
            if source.exists() and (path.exists() and path.samefile(source)):
                raise WriteRefused(path, f"is an input of this command ({option} must name another file)")
        if path.is_symlink():
            raise WriteRefused(path, "is a symbolic link (name the file it points to, or another file)")
        if path.exists() and not force:
            raise WriteRefused(path, "already exists (pass --force to overwrite it)")
        write_atomic(path, text, follow_symlinks=False, create_dirs=True)
    except WriteRefused as exc:
        raise OutputError(option, path, OSError(exc.errno, exc.reason)) from None
    except OSError as exc:
        raise OutputError(option, path, exc) from None


class StreamError(Exception):
    """A standard stream refused a write (full device, closed pipe, closed descriptor).

    Not an OSError on purpose: typer turns an EPIPE OSError raised inside a command into exit 1, the
    violations code; this passes through it to :func:`run_guarded` (exit 2).
    """

    def __init__(self, name: str, cause: OSError) -> None:
        super().__init__(f"cannot write to standard {name}: {cause.strerror or cause}")


class _GuardedStream:
    """A standard stream whose write errors become :class:`StreamError`; None stands for a closed one."""

    def __init__(self, stream: TextIO | None, name: str) -> None:
        self._stream = stream
        self._name = name

    def _failed(self, exc: OSError) -> StreamError:
        return StreamError(self._name, exc)

    def write(self, text: str) -> int:
        if self._stream is None:
            raise self._failed(OSError(errno.EBADF, "it is closed"))
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer...
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def _say(line: str) -> None:
    """One line on stderr, clipped; nothing when stderr itself cannot take it."""
    if len(line) > MAX_LINE_CHARS:
        line = line[: MAX_LINE_CHARS - 1] + "…"
    with contextlib.suppress(OSError, ValueError, AttributeError, StreamError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def describe_os_error(exc: OSError) -> str:
    """A path or output error in one line: ``PATH: reason`` or ``cannot write output: reason``."""
    if isinstance(exc, OutputError):
        return str(exc)
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{target}: {reason}"
    return f"cannot write output: {reason}"


def first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_guarded(main: Callable[[], Any], *, debug: Callable[[], bool]) -> int:
    """Run ``main`` (the click app, not standalone) and map every ending to an exit code.

    Args:
        main: runs the command and returns its exit code (or None for 0).
        debug: whether to print a traceback with an internal error (asked after the failure, so a
            ``--debug`` parsed by the app counts).
    """
    from typer import Abort, Exit
    from typer._click.exceptions import ClickException  # typer 0.29 vendors click

    raw_stderr = sys.stderr
    sys.stdout = _GuardedStream(sys.stdout, "output")  # type: ignore[assignment]
    sys.stderr = _GuardedStream(sys.stderr, "error")  # type: ignore[assignment]
    try:
        code = main()
    except StreamError as exc:
        sys.stderr = raw_stderr  # type: ignore[assignment]
        _say(f"mlops: {exc}")
        code = EXIT_BAD_INPUT
    except SystemExit as exc:
        code = exc.code
    except Exit as exc:
        code = exc.exit_code
    except ClickException as exc:  # a usage error: plain text, click's own wording
        with contextlib.suppress(OSError, ValueError, StreamError):
            exc.show()
        code = EXIT_BAD_INPUT
    except (Abort, KeyboardInterrupt):
        _say("mlops: interrupted")
        code = EXIT_INTERRUPTED
    except OSError as exc:
        _say(f"mlops: {describe_os_error(exc)}")
        code = EXIT_BAD_INPUT
    except Exception as exc:
        if debug():
            with contextlib.suppress(OSError, ValueError, StreamError):
                traceback.print_exc(file=sys.stderr)
        _say(f"mlops: internal error: {first_line(exc)} ({BUG_HINT})")
        code = EXIT_INTERNAL
    if isinstance(code, str):  # what sys.exit(message) prints
        _say(code)
        code = EXIT_VIOLATIONS
    code = code or EXIT_OK
    try:
        sys.stdout.flush()
    except StreamError as exc:  # a full device or a closed pipe: the output is lost
        _say(f"mlops: {exc}")
        code = EXIT_BAD_INPUT
    except ValueError:  # already closed by the command
        pass
    with contextlib.suppress(OSError, ValueError, StreamError):
        sys.stderr.flush()
    return int(code)


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("MLOPS_DEBUG", "") not in ("", "0")
