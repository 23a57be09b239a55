"""`broker-lag-exporter lint`: the risk checks over manifests on disk, before anything is deployed."""
