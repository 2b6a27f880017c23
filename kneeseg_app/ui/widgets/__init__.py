"""Widgets: show state and forward user actions, nothing more."""
