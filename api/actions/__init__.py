"""The board's action plan: actions from low scores and disagreements, carried forward each year."""
