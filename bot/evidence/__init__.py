"""Evidence (佐证材料): the files units send for their items — kept by content hash in a
folder or an S3-compatible bucket (store), checked by their first bytes and their size
(files), and recorded against an assignment with an audit event (attach)."""
