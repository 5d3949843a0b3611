"""Great Expectations gates: one suite per layer, built in code, run against Trino."""
