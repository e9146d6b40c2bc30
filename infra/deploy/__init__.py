"""Deployment helpers for deploy-veo31.sh: staging the functions and reading infra/gcp/ specs."""
