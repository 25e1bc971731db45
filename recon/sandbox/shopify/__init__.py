"""Local emulator of the Shopify Admin GraphQL API, serving a sandbox world."""

from recon.sandbox.shopify.app import create_shopify_app

__all__ = ["create_shopify_app"]
