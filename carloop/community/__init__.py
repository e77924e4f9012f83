"""Community: the co-creation board (suggestions, votes, duplicates, statuses, roadmap) and notices."""
