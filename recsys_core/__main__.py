"""`python -m recsys_core ...`: the command line (see `python -m recsys_core --help`)."""

from recsys_core.cli import main

raise SystemExit(main())
