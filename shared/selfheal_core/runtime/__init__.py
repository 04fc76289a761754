"""What every handler shares: configuration from the environment, observability, input validation and
the wiring of adapters. This is the composition layer; the domain never imports it.
"""
