"""Replaying a topology in Mininet with the real controller."""
