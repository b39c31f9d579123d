"""RecLab's engine: data, models, training, evaluation and runs. Never imports streamlit."""

__version__ = "0.1.0"
