"""Pure domain code: no boto3, no environment variables, no clocks or randomness it was not given."""
