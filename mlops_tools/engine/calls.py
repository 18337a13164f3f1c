"""Which provider calls the offline capture answers, and where in the program a call or a failure is.

The offline engine answers the kubernetes package's functions and components through the real
provider (``provider_host``) and the engine's own ``pulumi:pulumi:`` functions. Any other provider
function (``aws.ec2.get_ami``, ``docker.get_registry_image``) or multi-language component would need
that provider and its cloud: the program stops at the call with one located line that names it and
points at ``--engine pulumi``. The location is found when the program makes the call, by wrapping
the SDK's public ``pulumi.runtime.invoke*`` functions (what generated SDKs call) for the capture:
later, on the SDK's worker thread, the program's frame is gone.
"""

from __future__ import annotations

import functools
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

import pulumi.runtime

from mlops_platform.tools.findings import SourcePosition

ANSWERED_PACKAGES = frozenset({"kubernetes", "pulumi"})
"""Packages whose functions and components the offline capture answers."""
ENGINE_HINT = "audit with `--engine pulumi` (a real preview with its provider)"
_INVOKE_FUNCTIONS = ("invoke", "invoke_async", "invoke_output", "invoke_single", "invoke_output_single")
_LIBRARY_DIRS = tuple(
    {str(Path(p).resolve()) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
)


def package_of(token: str) -> str:
    """The package of a function or type token (``aws`` of ``aws:ec2/getAmi:getAmi``)."""
    return token.split(":", 1)[0]


class UnanswerableCall(Exception):
    """The program called a provider function (or built a component) the offline engine cannot answer.

    Bad input for the offline engine, not a failure of ours: exit 2 with ``str(exc)`` as the one line.
    """

    def __init__(self, token: str, where: str | None, *, what: str = "function") -> None:
        self.token, self.where, self.what = token, where, what
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{what} {token}: the offline engine cannot answer it; {ENGINE_HINT}")


class ProgramError(Exception):
    """The program raised: the exception and the program line it came from (the innermost of its own).

    Bad input (exit 2): ``str(exc)`` is ``file:line: Type: message``.
    """

    def __init__(self, cause: BaseException, where: str) -> None:
        self.cause, self.where = cause, where
        text = (str(cause).strip().splitlines() or [""])[0]
        super().__init__(f"{where}: {type(cause).__name__}{': ' + text if text else ''}")


def _in_library(filename: str) -> bool:
    resolved = str(Path(filename).resolve()) if filename and not filename.startswith("<") else filename
    return not resolved or resolved.startswith("<") or resolved.startswith(_LIBRARY_DIRS)


def is_program_file(filename: str, root: Path) -> bool:
    """A file of the user's program: below ``root`` and not an installed library (a venv inside it)."""
    if not filename or filename.startswith("<") or _in_library(filename):
        return False
    try:
        Path(filename).resolve().relative_to(root)
    except ValueError:
        return False
    return True


def shown(filename: str, line: int, root: Path) -> str:
    """``file:line`` with the file relative to ``root`` (the project's directory)."""
    try:
        name = str(Path(filename).resolve().relative_to(root))
    except ValueError:
        name = filename
    return f"{name}:{line}"


def caller_in_program(root: Path) -> str | None:
    """``file:line`` of the innermost frame of the program's own files on the current stack."""
    for frame in reversed(traceback.extract_stack()):
        if frame.lineno is not None and is_program_file(frame.filename, root):
            return shown(frame.filename, frame.lineno, root)
    return None


def raised_in_program(exc: BaseException, root: Path) -> str | None:
    """``file:line`` of the innermost frame of the program's own files in ``exc``'s traceback."""
    where = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_program_file(code.co_filename, root):
            where = shown(code.co_filename, tb.tb_lineno, root)
        tb = tb.tb_next
    return where


def source_position(request: Any) -> SourcePosition | None:
    """The ``sourcePosition`` the SDK put in a ``RegisterResourceRequest``, as a file path and line."""
    if not request.HasField("sourcePosition"):
        return None
    position = request.sourcePosition
    parsed = urlparse(position.uri)
    if parsed.scheme != "file" or not position.line:
        return None
    return SourcePosition(unquote(parsed.path), int(position.line))


def position_of(request: Any, root: Path) -> str | None:
    """``file:line`` of a registration's source position when it is in the program."""
    position = source_position(request)
    if position is None or not is_program_file(position.file, root):
        return None
    return shown(position.file, position.line, root)


def _guarded(function: Callable[..., Any], root: Path) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(tok: str, *args: Any, **kwargs: Any) -> Any:
        if package_of(tok) not in ANSWERED_PACKAGES:
            raise UnanswerableCall(tok, caller_in_program(root))
        return function(tok, *args, **kwargs)

    return call


@contextmanager
def guarded_invokes(root: Path) -> Iterator[None]:
    """Inside, a call of a function the offline capture cannot answer raises ``UnanswerableCall``.

    The capture runs one program at a time (``capture._RUN_LOCK``), so replacing the module's
    attributes for its duration affects that program only.
    """
    module: Any = pulumi.runtime
    saved = {name: getattr(module, name) for name in _INVOKE_FUNCTIONS if hasattr(module, name)}
    try:
        for name, function in saved.items():
            setattr(module, name, _guarded(function, root))
        yield
    finally:
        for name, function in saved.items():
            setattr(module, name, function)


def project_root_of(program: Path) -> Path:
    """The directory of the ``Pulumi.yaml`` above ``program`` (the program's own directory without one)."""
    for directory in (program.parent, *program.parent.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return program.parent


def program_failure(exc: BaseException, root: Path) -> str | None:
    """The one line reporting a program run that ended in ``exc``, when that is bad input (exit 2).

    Bad input: a call the offline engine cannot answer, a provider refusing the program's chart or
    manifest, the program's own ``RunError`` (located spec errors), a stack file it cannot read, or an
    exception raised in the program's own files (located at its innermost line there). None: the
    failure is ours (exit 70 through the entry guard).
    """
    import pulumi

    from mlops_platform.tools.engine.capture import StackReferenceError
    from mlops_platform.tools.engine.config import StackConfigError
    from mlops_platform.tools.engine.provider_host import ProviderCallError, ProviderUnavailable

    if isinstance(
        exc, UnanswerableCall | ProviderUnavailable | StackReferenceError | StackConfigError | TransformError
    ):
        return str(exc)
    if isinstance(exc, ProviderCallError):
        return f"the kubernetes provider refused the program's call: {exc}"
    if isinstance(exc, pulumi.RunError):
        return f"the program failed: {exc}"
    where = raised_in_program(exc, root)
    return str(ProgramError(exc, where)) if where is not None else None


def invoke_transform(callback: Any, request: Any) -> Any:
    """Call a transform through the program's callback server, as the engine does; its response.

    Raises:
        TransformError: the transform raised (the program's error: its message says where).
    """
    import grpc
    from pulumi.runtime.proto import callback_pb2, callback_pb2_grpc, resource_pb2

    with grpc.insecure_channel(callback.target) as channel:
        try:
            answer = callback_pb2_grpc.CallbacksStub(channel).Invoke(
                callback_pb2.CallbackInvokeRequest(token=callback.token, request=request.SerializeToString())
            )
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise TransformError(f"a transform of {request.type} {request.name!r} failed: {detail}") from None
    return resource_pb2.TransformResponse.FromString(answer.response)


class TransformError(Exception):
    """A transform the program registered raised (bad input: exit 2)."""
