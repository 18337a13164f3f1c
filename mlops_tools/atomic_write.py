"""The one way mlops writes a user's file: whole or not at all, never over a change it did not read.

Every command that writes a file the user keeps (a stack file edited by promote or rollback, a report
or snapshot given with ``-o``, the files of ``mlops init``) goes through :func:`write_atomic`:

- the bytes go to a temporary file in the target's own directory (a rename is atomic only within one
  file system), named ``.<name>.mlops-tmp-<random>``, flushed and fsynced, given the original's mode
  and owner, then renamed over the target, and the directory fsynced so the rename survives a crash.
  A killed writer (SIGKILL, power loss) leaves the old file byte for byte, or the new one;
- the target of a symbolic link is written, the link kept (``follow_symlinks``); outputs refuse links;
- writers of one file are serialised by an ``fcntl.flock`` on the file (on its directory while the
  file does not exist yet); under that lock the file's content digest is compared with the one read
  (:class:`ReadFile`), so a change made meanwhile (another promote, an editor's save) is refused,
  never silently overwritten;
- a temporary file left by a killed writer is removed by the next writer of the same file: each
  writer holds a lock on its own temporary file, so one nobody holds is stale.

:func:`scratch_dir` makes a private directory the same way (``.mlops-tmp-<purpose>-<random>`` beside
a file), removed on exit, and by a later run after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

TMP_MARK = ".mlops-tmp-"
"""Every temporary file or directory mlops makes beside a user's file has this in its name."""


class WriteRefused(OSError):
    """A write that would lose or misplace data; ``str()`` is one line naming the file and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(errno.EEXIST, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}; nothing written"


@dataclass(frozen=True, slots=True)
class ReadFile:
    """A file's bytes as a command read them, and their digest (None: the file did not exist)."""

    path: Path
    data: bytes
    digest: str | None

    @property
    def text(self) -> str:
        """The content as UTF-8; a BOM and CR LF line ends are kept as they are."""
        return self.data.decode("utf-8")


def absent(path: Path) -> ReadFile:
    """What :func:`write_atomic` expects to create a file that must not exist yet."""
    return ReadFile(path, b"", None)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_for_edit(path: Path) -> ReadFile:
    """Read ``path`` (through a symbolic link) to edit it with :func:`write_atomic` later.

    Raises:
        OSError: the file cannot be read (a missing file reads as absent, not an error).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ReadFile(path, b"", None)
    return ReadFile(path, data, digest_of(data))


def _current_digest(real: Path) -> str | None:
    try:
        return digest_of(real.read_bytes())
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def file_lock(real: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``real`` (on its directory while it does not exist).

    A writer renames a new file over the locked one, so after waiting the lock may be on a file no
    longer at ``real``: then it is taken again on what is there now.
    """
    while True:
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
            locked_file = True
        except FileNotFoundError:
            fd = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            locked_file = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = os.stat(real)
            except FileNotFoundError:
                now = None
            held = os.fstat(fd)
            current = (
                now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
                if locked_file
                else now is None
            )
            if current:
                yield
                return
        finally:
            os.close(fd)  # releases the lock


def clean_stale(directory: Path, prefix: str) -> None:
    """Remove the temporary files and directories named ``prefix*`` in ``directory`` nobody holds."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        path = directory / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its writer is alive and holds it
            os.close(fd)
            continue
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_target(path: Path, *, follow_symlinks: bool) -> Path:
    """The file a write of ``path`` replaces: the link's final target, or ``path`` (links refused).

    Raises:
        WriteRefused: ``path`` is a symbolic link and ``follow_symlinks`` is false.
    """
    if path.is_symlink():
        if not follow_symlinks:
            raise WriteRefused(path, "is a symbolic link (write to the file it points to instead)")
        return Path(os.path.realpath(path))
    return path


def write_atomic(
    path: Path,
    data: bytes | str | Iterable[str],
    *,
    expect: ReadFile | None = None,
    follow_symlinks: bool = True,
    create_dirs: bool = False,
    new_mode: int | None = None,
) -> Path:
    """Replace ``path`` with ``data`` atomically; return the file written (a link's target).

    Args:
        path: the file to write.
        data: its new content (``str`` is written as UTF-8); an iterable of ``str`` is written piece by
            piece as it comes (a streamed report), never held whole.
        expect: what the caller read before computing ``data``: the write is refused when the file's
            content is no longer that (or it exists now and did not then). None: replace whatever is
            there (an output the caller has already decided to overwrite).
        follow_symlinks: write a symbolic link's target and keep the link; False: refuse a link.
        create_dirs: create the missing parent directories first.
        new_mode: the mode of a file that does not exist yet (default: 0o666 less the umask); a
            file that exists keeps its own.

    Raises:
        WriteRefused: the file changed since ``expect`` was read, or is a link and links are refused.
        OSError: the directory cannot take the file (permissions, a full disk); nothing is replaced.
    """
    pieces: Iterable[bytes] = (
        [data.encode("utf-8")]
        if isinstance(data, str)
        else [data]
        if isinstance(data, bytes)
        else (piece.encode("utf-8") for piece in data)
    )
    real = resolve_target(path, follow_symlinks=follow_symlinks)
    directory = real.parent
    if create_dirs:
        directory.mkdir(parents=True, exist_ok=True)
    prefix = f".{real.name}{TMP_MARK}"
    with file_lock(real):
        if expect is not None and _current_digest(real) != expect.digest:
            raise WriteRefused(
                path,
                "changed since this command read it (another command or an editor wrote it); run it again",
            )
        clean_stale(directory, prefix)
        try:
            old = os.stat(real)
        except FileNotFoundError:
            old = None
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=directory)
        except OSError as exc:
            reason = f"cannot make a temporary file in {directory} ({exc.strerror or exc})"
            raise OSError(exc.errno, reason) from None
        tmp = Path(tmp_name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # marks it as alive for clean_stale of another writer
            with os.fdopen(fd, "wb", closefd=False) as handle:
                for piece in pieces:
                    handle.write(piece)
                handle.flush()
                os.fsync(handle.fileno())
            if old is not None:
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):  # only root may give a file away
                        os.fchown(fd, old.st_uid, old.st_gid)
            else:
                os.fchmod(fd, 0o666 & ~_umask() if new_mode is None else new_mode)
            os.replace(tmp, real)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        _fsync_dir(directory)
    return real


@contextlib.contextmanager
def scratch_dir(near: Path, purpose: str) -> Iterator[Path]:
    """A private directory beside ``near`` (``.mlops-tmp-<purpose>-<random>``), removed on exit.

    Made in the user's directory rather than ``/tmp`` so that a run killed before its cleanup leaves
    it where the next run of any mlops command that writes there removes it (:func:`clean_stale`).
    """
    directory = near.parent
    prefix = f"{TMP_MARK}{purpose}-"
    clean_stale(directory, prefix)
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=directory))
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        os.close(fd)
