"""Operator tasks on a deployment: `schema` (migrate, backup first), `backup` (and restore),
`storage` (check the file store, move files between stores)."""
