"""Wayline: a self-hosted LLM gateway, wire-compatible with Open WebUI's API."""

__version__ = "0.7.0"
