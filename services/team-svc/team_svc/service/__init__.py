"""Use cases of team-svc: load → domain → save + events in one unit of work."""
