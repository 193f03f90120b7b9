"""How stages are loaded: the streamed extract, the Polars engine, COPY, checkpoints, deltas."""
