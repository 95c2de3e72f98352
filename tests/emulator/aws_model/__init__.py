"""hikkonuki's model of AWS operations moto lacks: one module per service, each with an `install()`.

OUR MODEL OF AWS, NOT AWS: see ../launch.py. Each module lists, at its top, the operations it adds, the
AWS API reference pages it follows, and what it leaves out. Keep each small: only what a cut calls.
"""

import importlib
import pkgutil


def install():
    """Adds every module's operations to moto, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.install()
