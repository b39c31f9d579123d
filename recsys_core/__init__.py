"""RecLab's engine: data, models, training, evaluation and runs. Never imports streamlit."""

import os as _os

# Idle OpenMP threads spin-wait by default; on a small machine shared by the dashboard, worker processes
# and the browser that made training 10-20x slower in wall time (measured on 2 cores). Passive waiting costs
# nothing when the machine is otherwise idle. Only effective if set before torch is first imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
