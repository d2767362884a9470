"""The verifier: sectors' claims checked against the population database, never its values."""
