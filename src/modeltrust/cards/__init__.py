"""Model documentation: card parsing, completeness against the standards, draft cards and the EU AI Act
information sheet."""
