"""``python -m dermflow.cluster up|down|status`` (the same as ``dermflow cluster ...``)."""
import sys

from dermflow.cluster.cluster_cli import main

sys.exit(main())
