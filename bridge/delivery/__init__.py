"""Delivery jobs, one module per direction: customer → amoCRM and amoCRM → customer."""
