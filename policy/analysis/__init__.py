"""What the pack knows about a stack: decoded resources and the facts rules share."""
