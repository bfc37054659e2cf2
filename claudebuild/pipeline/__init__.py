"""The review pipeline as pure stages: discover -> chunk -> prompt, then report -> triage over the results."""
