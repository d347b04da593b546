"""The board's WRES indicators and its progress on the EDI improvement plan, for an assessment's year."""
