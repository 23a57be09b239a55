"""Where your copy of the bundle points: the image deploy/ runs and the runbooks alerts link to.

The defaults are placeholders under example.com, not a published location: set them to your
registry and to where you publish docs/runbooks.md, then run `python -m bundle`, which writes
them into deploy/base/kustomization.yaml and every alert's runbook_url.
"""

from broker_lag_exporter import __version__

IMAGE_REGISTRY = "registry.example.com"
IMAGE_REPOSITORY = "broker-lag-exporter"
IMAGE_TAG = __version__
RUNBOOK_BASE = "https://runbooks.example.com/broker-lag-exporter/docs/runbooks.md"


def image() -> str:
    """Return the image name without its tag."""
    return f"{IMAGE_REGISTRY}/{IMAGE_REPOSITORY}"
