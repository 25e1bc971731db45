"""Build hook: the wheel carries the top-level ``templates/`` as the data folder recon/templates.

Everything else about the package is declared in pyproject.toml. The templates stay at the top
level (the product's layout) and are not copied in the repository; the build maps that folder
into the package, so ``pip install .`` or a wheel in a Docker image has them too, and the sdist
carries them. ``recon.reporting.html.template_folder`` finds them in either place.
"""

from setuptools import setup
from setuptools.command.build_py import build_py

TEMPLATES_PACKAGE = "recon.templates"  # a folder of data, not a module: no __init__.py


class BuildPyWithTemplates(build_py):
    """``build_py`` that also builds ``templates/*.j2`` into ``recon/templates/``."""

    def finalize_options(self) -> None:
        super().finalize_options()
        # pyproject.toml finds the packages itself; this one package lives outside recon/.
        self.packages = [*(self.packages or []), TEMPLATES_PACKAGE]
        self.package_dir = {**(self.package_dir or {}), TEMPLATES_PACKAGE: "templates"}
        self.package_data = {**(self.package_data or {}), TEMPLATES_PACKAGE: ["*.j2"]}


setup(cmdclass={"build_py": BuildPyWithTemplates})
