"""mulcot-baselines: the majority-class and text-only TF-IDF baselines for mulcot-bench."""
