"""NHS trusts: reference data and peer-group attributes."""
