"""The platform admin's pages: cycles, trusts, frameworks and the people with platform roles."""
