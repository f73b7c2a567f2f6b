"""Replies from units and supervisors in enterprise chat."""
