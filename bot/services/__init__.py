"""Use cases: load → domain → engine → save → notify."""
