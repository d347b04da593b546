"""The public pages: home, about, accessibility, health check."""
