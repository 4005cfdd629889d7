"""One module per op family; each registers the ops it compiles with `register_op`.

Every module of this folder is imported here (in name order), so a new op family is a new
module and nothing else: no list to edit. Only the compiler's driver imports this package.
"""

from __future__ import annotations

import importlib
import pkgutil

# the op family modules, imported for their registrations
MODULES = tuple(
    importlib.import_module(f"{__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
    if not info.name.startswith("_")
)
