"""mulcot-replay: a teacher that serves saved rationales instead of calling a model."""
