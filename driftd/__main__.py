"""`python -m driftd` is the same as the `driftd` console script."""

from driftd.cli import main

raise SystemExit(main())
