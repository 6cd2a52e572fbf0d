"""Shared liquidity with affiliate venues: who may take part, and the links to them."""
