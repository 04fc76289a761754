"""The local engine: the project's ASL and handlers on moto's embedded Step Functions interpreter."""
