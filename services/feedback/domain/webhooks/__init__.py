"""A platform's webhook, from request to stored and queued: what it is (parsing) and accepting it (intake)."""
