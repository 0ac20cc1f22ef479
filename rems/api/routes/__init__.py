"""Importing this package registers every API endpoint."""
from rems.api.routes import accounts, admin, dispensing, documents, patients, practice  # noqa: F401
