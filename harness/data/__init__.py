"""Tasks (dataset bundles): the embedded benchmark generators and real-format loaders."""
