"""Files only their owner may read: credentials, keys, rendered profiles."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes | str) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only (0600).

    The temporary file is created 0600 (mkstemp), so the content is never readable by others,
    not even for a moment; an unchanged file is left as it is (its mode made 0600).
    """
    content = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == content:
        path.chmod(0o600)
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
