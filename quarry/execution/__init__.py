"""Running physical plans: the inline executor (and, later, stages over a process pool or Ray)."""
