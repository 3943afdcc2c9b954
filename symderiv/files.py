"""Reading input files and writing output files safely: every command goes through here.

Contract:

* **Bounded, regular input.** :func:`read_text_file` reads only regular files
  (a FIFO or a device is refused before it is opened), never more than its
  byte limit plus one, and only UTF-8 text.

* **No silent overwrite.** :func:`check_output_path` refuses a path that
  already exists unless ``force`` is given (``--force`` on the command line),
  and it runs *before* any long work, together with the other checks (the
  suffix, the directory exists and is writable, the path is not a directory).
* **No half-written file.** :func:`write_atomically` writes to a temporary
  file in the same directory and renames it into place only when complete; on
  any failure the temporary file is removed and the path is untouched. Without
  ``force`` the final step is ``os.link``, which fails if the path appeared
  meanwhile, so even a race cannot overwrite.
* **Symlinks, deliberately.** A symlink at the output path counts as an
  existing file: refused without ``force``; with ``force`` the *link itself*
  is replaced by a regular file (rename never writes through a link), and
  whatever it pointed to is left untouched.

Errors are :class:`~symderiv.errors.InputError` (exit 2) naming the option and path.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from symderiv.errors import InputError


def check_output_path(path: str | Path, what: str, *, suffix: str | None = None, force: bool = False) -> Path:
    """Validate an output path up front; return it as a Path."""
    path = Path(path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise InputError(f"{what} {path}: the file name must end in {suffix}")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: directory {parent} is not writable")
    if path.is_dir():
        raise InputError(f"{what} {path}: is a directory")
    if (path.exists() or path.is_symlink()) and not force:
        kind = "a symbolic link" if path.is_symlink() else "a file"
        raise InputError(f"{what} {path}: {kind} already exists there (use --force to replace it)")
    return path


def write_atomically(path: str | Path, data: bytes | str, what: str, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` all at once (temporary file + rename)."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot write: {exc.strerror or exc}") from None
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(temporary, path, what, force)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def copy_atomically(source: str | Path, path: str | Path, what: str, *, force: bool = False) -> Path:
    """Copy a finished file (e.g. a PDF built elsewhere) to ``path`` atomically."""
    return write_atomically(path, Path(source).read_bytes(), what, force=force)


def _move_into_place(temporary: str, path: Path, what: str, force: bool) -> None:
    try:
        if force:
            os.replace(temporary, path)
            return
        try:
            os.link(temporary, path)  # fails if the path exists, even if it appeared just now
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # a file system without hard links: check, then rename
            if os.path.lexists(path):
                raise FileExistsError from None
            os.replace(temporary, path)
            return
    except FileExistsError:
        raise InputError(f"{what} {path}: a file already exists there (use --force to replace it)") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot write: {exc.strerror or exc}") from None
    os.unlink(temporary)


#: the largest input file read (a writeup); larger files are refused unread
MAX_INPUT_BYTES = 5_000_000


def read_text_file(path: str, max_bytes: int | None = None) -> str:
    """The file's text; only regular files, and never more than ``max_bytes`` + 1 bytes read.

    A FIFO would block ``open`` forever and /dev/zero never ends, and both report
    size 0, so the type is checked with ``stat`` before the file is opened.
    """
    if max_bytes is None:
        max_bytes = MAX_INPUT_BYTES
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"{path}: file too large ({info.st_size} bytes; limit {max_bytes})")
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputError(f"{path}: not a regular file")
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: file too large (more than {max_bytes} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
