"""Remediation: plan fixes from findings, record intents, apply them; never move money twice."""
