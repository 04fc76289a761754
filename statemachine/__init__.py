"""Package data of selfheal._bundled.statemachine: see setup.py and src/selfheal/_bundled/__init__.py."""
