"""Prefunding and delivery-versus-payment settlement: the ledger and what orders hold in it."""
