"""Shared test support: fixture plumbing (PostgreSQL, the API server), helpers, fault tools."""
