"""Pure rules of the roll-ups: cell arithmetic and the figures a manager reads."""
