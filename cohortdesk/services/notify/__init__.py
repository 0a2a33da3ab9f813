"""Learner notifications: the outbox the database fills, the SMTP sender, settings and templates."""
