"""dermflow: a distributed batch pipeline for dermoscopy images."""

__version__ = "0.1.0"
