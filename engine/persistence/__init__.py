"""The journal, snapshots and recovery: every state rebuilt from what was written."""
