"""The Qt shell: windows, dialogs, Qt item models and the background runner. No SQLAlchemy here."""
