"""The operators' desk: the admin socket, what it can do, and the `fixgw` commands that use it."""
