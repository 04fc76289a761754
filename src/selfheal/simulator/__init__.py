"""The fast simulator behind ``selfheal evaluate``: scenario files, an incident stream, the policies,
an in-process engine using the deployed diagnosis and safety gate, metrics and reports."""
