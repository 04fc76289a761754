"""selfheal's deployable core: the domain (pure) and the adapters that connect it to AWS or SQLite.

Layering, one direction only::

    functions/<state>/app.py   (thin handlers: wiring, validation, observability)
        -> selfheal_core.domain   (pure: no boto3, no environment variables)
        -> selfheal_core.adapters (boto3 and SQLite implementations of the ports)
"""
