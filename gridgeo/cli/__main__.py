"""``python -m gridgeo.cli``: the ``gridgeo`` command."""

from . import run

if __name__ == "__main__":  # importing this module (pkgutil.walk_packages) runs nothing
    run()
