"""The audit: every check on one model, one result, one verdict. Orchestration only, no printing."""
