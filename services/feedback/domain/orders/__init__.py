"""A queued webhook → the shop's orders, fulfilments and customers (normalise, records, processing)."""
