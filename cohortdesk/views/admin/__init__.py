"""The institution super admin's screens: configuration forms, enrollment import, conflict inbox and sync
status. Every database call goes through the shared runner; no SQLAlchemy here."""
