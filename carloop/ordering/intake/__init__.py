"""Launch-day intake: a lean HTTP route, a group-commit writer and the batch that stores orders."""
