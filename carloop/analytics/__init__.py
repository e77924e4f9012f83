"""Analytics: funnel events, the DuckDB dashboard, market structure and the simulated launch."""
