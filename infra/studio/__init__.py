"""The studio: the `studio` command line and the static web front end of the product API."""
