"""The `wujiang` operator command line."""
