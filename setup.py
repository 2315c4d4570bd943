"""Build step: ship the named model configurations (the top-level ``models/*.toml``) inside the wheel.

The repository keeps ``models/`` at the top (the design's names, next to the code that reads them); an
installed latxfer finds its copy in ``latxfer/models/named/`` (see :func:`latxfer.models.config.models_dir`).
All metadata lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithModels(build_py):
    """``build_py`` that also copies ``models/*.toml`` to ``latxfer/models/named/`` in the build tree."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository's models/ directly
        dest = Path(self.build_lib) / "latxfer" / "models" / "named"
        dest.mkdir(parents=True, exist_ok=True)
        for src in sorted(Path(__file__).resolve().parent.joinpath("models").glob("*.toml")):
            shutil.copyfile(src, dest / src.name)


setup(cmdclass={"build_py": BuildPyWithModels})
