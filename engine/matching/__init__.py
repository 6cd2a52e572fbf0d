"""The core that applies commands: matching, the operators' handlers, the state digests."""
