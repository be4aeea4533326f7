"""Telling a live link from a dead, blocked, soft-404 or drifted one."""
