"""Each paper's evaluation protocol as a plain metric function, plus the judges (evaluation networks) they need."""
