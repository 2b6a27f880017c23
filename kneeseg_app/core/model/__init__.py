"""The model package: the contract between the trainer (writer) and the app (reader)."""
