"""What an operator reads: incident logs summarised, their timelines, the shadow report, the state
machine drawn with the path an incident took. Read-only: nothing here appends to a log."""
