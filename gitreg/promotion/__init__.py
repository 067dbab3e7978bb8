"""Promotion: gates, pull-request proposals, review of a pull request, audit, forges."""
