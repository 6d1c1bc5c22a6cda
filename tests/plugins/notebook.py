"""Fixtures for the notebook tests."""
