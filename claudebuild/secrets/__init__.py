"""Secret detection: payloads are scanned and redacted before they leave the machine."""
