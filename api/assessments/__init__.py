"""Cycles, assessments, individual ratings, consensus and sign-off."""
