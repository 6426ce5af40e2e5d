"""Files and directories only the server's user may read: config dir, logs, PID file.

Log lines hold request metadata and routing decisions, the PID file says where the server
listens; like the config (0600) they are nobody else's business. Existing files and dirs from
older versions (0644/0755) are tightened when the server opens them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create `path` as 0700; with `tighten`, also an existing one that is ours. The config
    dir is created 0700 but never tightened: it may be a directory the user shares on purpose
    (a config in ~ or /srv/x), while `logs/` is always the server's own."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not tighten:
        return
    info = path.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)


def open_private(path: Path, flags: int) -> int:
    """os.open with O_CREAT and mode 0600; an existing file is brought to 0600 too."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:  # not ours (a shared log dir): leave it as it is
        pass
    return fd


def write_temp(target: Path, data: bytes) -> str:
    """`data` in a fsynced temp file (mode 0600) next to `target`, for the caller to rename or
    link into place: a writer killed before that leaves only the temp file, never a torn one."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp already uses 0600; say it anyway: such files hold keys
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp
