"""Workflows, one function per user action: commands in, frozen rows out, typed errors (no Qt)."""
