"""Data layer: read, validate, preprocess, split and encode interaction logs."""
