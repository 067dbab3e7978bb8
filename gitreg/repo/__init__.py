"""The only git home: the git binary, objects and commits, the lock, sync and push."""
