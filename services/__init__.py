"""cxloop's services: each owns its records and talks to the others only through events."""
