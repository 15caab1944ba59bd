"""Which modules an import compiled from source, told after the fact from the modules themselves;
and which library modules it loaded.

A timed import that compiles bytecode measures the compiler, not the code: with
PYTHONDONTWRITEBYTECODE set (as in this environment, and as /var/task and /opt are read-only in
Lambda) a module without a valid .pyc beside it is compiled at every cold start, and with it unset
the first run writes the .pyc and the later ones do not. Either way the figure depends on what the
disk held, so bench/coldstart.py refuses a sample that compiled a module it should not have.

Python's source loader uses a module's cached .pyc only when the file is there and valid for the
source (its timestamp and size, or its hash, or an unchecked hash); otherwise it compiles. So a
module compiled if its .pyc is missing, invalid for the source now, or was written after the timed
import began. The check runs in the timed process, after the timing, and costs the timing nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from importlib.machinery import SourceFileLoader

_FLAG_HASH, _FLAG_CHECK_SOURCE = 0b01, 0b10


def compiled(names: Iterable[str], *, since: float) -> list[str]:
    """Source files of the modules among `names` that were compiled rather than loaded from a
    .pyc by an import that began at time.time() `since`."""
    found = []
    for name in sorted(names):
        spec = getattr(sys.modules.get(name), "__spec__", None)
        if spec is None or not isinstance(spec.loader, SourceFileLoader) or not spec.origin:
            continue  # built in, frozen, an extension, a namespace package, or a .pyc without source
        if not _loaded_from_bytecode(spec.origin, spec.cached, since):
            found.append(spec.origin)
    return found


def _loaded_from_bytecode(source: str, cached: str | None, since: float) -> bool:
    if cached is None:
        return False
    try:
        stat = os.stat(cached)
        with open(cached, "rb") as file:
            header = file.read(16)
        with open(source, "rb") as file:
            source_bytes = file.read()
    except OSError:
        return False
    if stat.st_mtime >= since:
        return False  # written by this import: it compiled
    if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(header[4:8], "little")
    if flags & _FLAG_HASH:
        unchecked = not flags & _FLAG_CHECK_SOURCE
        return unchecked or header[8:16] == importlib.util.source_hash(source_bytes)
    source_stat = os.stat(source)
    mtime_ok = int.from_bytes(header[8:12], "little") == int(source_stat.st_mtime) & 0xFFFFFFFF
    return mtime_ok and int.from_bytes(header[12:16], "little") == len(source_bytes) & 0xFFFFFFFF


def libraries(names: Iterable[str], *, ours: Iterable[str]) -> list[str]:
    """The modules among `names` that belong to neither the standard library nor the top-level
    packages `ours`: what an import loaded from the libraries it is built on (bench/coldstart.py
    compares a handler's with its bare init's). A module listed under a second name is left out:
    requests.packages aliases whichever urllib3 modules are loaded when requests is, so its
    aliases depend on the order of the imports, not on what was loaded."""
    own = set(ours) | sys.stdlib_module_names | set(sys.builtin_module_names)
    return sorted(
        name
        for name in names
        if name.partition(".")[0] not in own and getattr(sys.modules.get(name), "__name__", name) == name
    )
