"""Writing output files safely: every command that writes a file goes through here.

Contract:

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
