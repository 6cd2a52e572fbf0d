"""The edge of the venue: configuration, the operator CLI and (next) the FIX gateway."""
