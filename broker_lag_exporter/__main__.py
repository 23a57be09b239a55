"""Allow `python -m broker_lag_exporter`."""

from broker_lag_exporter.cli import main

raise SystemExit(main())
