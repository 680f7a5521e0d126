"""The governed hub: a Hugging Face Hub-compatible server that serves only what passed the audit."""
