"""The staff console: navigation by role, staff accounts, audit log, catalog activation, deposit policy."""
