"""recon: nightly reconciliation of Loop Returns against Shopify refunds, stock and payouts."""

__version__ = "0.1.0"
