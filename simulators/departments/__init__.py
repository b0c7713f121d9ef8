"""The four department systems, each rendering its own slice of the true city in its native schema."""
