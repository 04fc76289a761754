"""Package data of selfheal._bundled.events: see setup.py and src/selfheal/_bundled/__init__.py."""
