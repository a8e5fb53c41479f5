"""Living plans: update a finished plan for new buildings, planner edits, lineage, seams and the bound on moved households."""
