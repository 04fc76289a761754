"""Only the package list, which pyproject.toml cannot express; everything else is configured there.

The packages are found under src/ and shared/ as usual, plus three that setuptools maps onto the
repository's own folders, so that the installed CLI runs the very state machine, handlers and sample events
the repository deploys, without copies (see src/selfheal/_bundled/__init__.py). A
`[tool.setuptools.packages.find]` table cannot add mapped packages, and an explicit list in pyproject.toml
would silently drop every new subpackage from the wheel.
"""

from setuptools import find_packages, setup

BUNDLED = {
    "selfheal._bundled.events": "events",
    "selfheal._bundled.functions": "functions",
    "selfheal._bundled.statemachine": "statemachine",
}

setup(
    packages=[*find_packages("src"), *find_packages("shared"), *BUNDLED],
    package_dir={"": "src", "selfheal_core": "shared/selfheal_core", **BUNDLED},
)
