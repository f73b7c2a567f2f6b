"""Supervision after the reminders: the periodic public ranking (晾晒) and, later, digests and
accountability (问责). `ranking` is pure scoring; `ranking_flow` reads the audit trail."""
