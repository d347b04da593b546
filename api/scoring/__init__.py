"""Scores: section, overall and board-assurance scores from the board's agreed levels."""
