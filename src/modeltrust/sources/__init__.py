"""Where a model comes from: a local folder or a Hugging Face Hub repo, read the same way."""
