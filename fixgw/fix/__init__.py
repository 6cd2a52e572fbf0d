"""The FIX codec: requests in, reports, market data and reference data out, and the sessions."""
