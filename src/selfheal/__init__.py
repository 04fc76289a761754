"""selfheal's local side: the CLI, the local engine (moto's Step Functions interpreter) and the simulator.

Nothing in this package is deployed; the Lambdas only ship ``functions/`` and the ``shared/`` layer.
"""
