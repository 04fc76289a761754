"""Measuring and training the classifier: corpus loading, metrics, cross-validation, training (never
deployed: the Lambda layer ships only what classifies)."""
