"""Reminders to finish rating: sent by the chair or secretary, and by the daily command."""
