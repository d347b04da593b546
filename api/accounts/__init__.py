"""People, their memberships of trust boards, and sign-in."""
