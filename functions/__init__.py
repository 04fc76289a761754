"""Package data of selfheal._bundled.functions: see setup.py and src/selfheal/_bundled/__init__.py."""
