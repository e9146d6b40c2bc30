"""The pipeline's one library: every agent imports it; it never imports an agent."""
