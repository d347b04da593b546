"""Data protection: retention, subject access and erasure (docs/data-protection.md)."""
